from localace.cli import main

main()
