"""What the API accepts, each limit stated once: the request models publish these in the OpenAPI
document (books_api.models), and the domain checks the same ones (books, users, passwords).

A module of constants with no imports, so that every module can use it: users.py without loading
pydantic (the authorizer imports it), models.py without loading bcrypt (the books function does).
Patterns are written for both Python's ``re`` and ECMAScript's regular expressions (JSON Schema's):
anchored, and with no class such as ``\\s`` or ``\\d`` whose meaning differs between the two.
"""

# --- users -------------------------------------------------------------------------------------

USERNAME_MAX_LENGTH = 32
# ASCII letters of either case and digits, with ".", "_" or "-" between them. Signup takes a name
# that matches as sent; users.normalize_username folds a name (NFKC, lower case) before it checks.
USERNAME_PATTERN = rf"^[A-Za-z0-9](?:[A-Za-z0-9._-]{{0,{USERNAME_MAX_LENGTH - 2}}}[A-Za-z0-9])?$"

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
PASSWORD_PATTERN = r"^[^\x00]*$"  # noqa: S105 - a pattern, not a password: no NUL

USER_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"  # a UUIDv4

# --- multi-factor sign-in ----------------------------------------------------------------------

TOTP_DIGITS = 6
TOTP_STEP_SECONDS = 30
TOTP_CODE_PATTERN = f"^[0-9]{{{TOTP_DIGITS}}}$"
# A recovery code: 16 base32 characters (80 bits), shown in groups of four; hyphens and case are
# the client's choice.
RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_LENGTH = 16
_BASE32 = "[A-Za-z2-7]"
RECOVERY_CODE_PATTERN = f"^{_BASE32}{{4}}(?:-?{_BASE32}{{4}}){{3}}$"
# What a code field holds: a TOTP code or a recovery code.
MFA_CODE_PATTERN = f"^(?:{TOTP_CODE_PATTERN[1:-1]}|{RECOVERY_CODE_PATTERN[1:-1]})$"
MFA_CODE_MAX_LENGTH = RECOVERY_CODE_LENGTH + 3

# --- books -------------------------------------------------------------------------------------

TEXT_MAX_LENGTH = 200
_CONTROL = r"\x00-\x1f\x7f-\x9f"  # Unicode's Cc: C0, DEL and C1
_SPACE = r"\x20\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"  # White_Space outside Cc
# A title or an author as sent: no control character, and something besides spaces.
TEXT_PATTERN = f"^[^{_CONTROL}]*[^{_CONTROL}{_SPACE}][^{_CONTROL}]*$"

YEAR_MIN, YEAR_MAX = -5000, 9999

ISBN_MAX_LENGTH = 32
# An ISBN-10's or ISBN-13's digits (an ISBN-10's last may be X), with hyphens and spaces anywhere.
# Its check digit is the domain's to check (books.normalize_isbn).
ISBN_PATTERN = r"^[ -]*(?:[0-9][ -]*){9}(?:[0-9Xx]|[0-9](?:[ -]*[0-9]){3})[ -]*$"

BOOK_ID_PATTERN = USER_ID_PATTERN  # a UUIDv4 too

PAGE_SIZE_MIN, PAGE_SIZE_MAX, PAGE_SIZE_DEFAULT = 1, 100, 20
