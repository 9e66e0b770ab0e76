from local_api.server import main

main()
