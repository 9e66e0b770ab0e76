"""The operator CLI: create a user with a role (the first admin) or reset a password, in the local
server's store or a deployed stack's. Run ``python -m admin_cli --help``."""

# Accounts are made with the settings of the function that makes them (table, bcrypt cost...).
ACCOUNTS_FUNCTION = "SignupFunction"
