from flakehunt.cli import main

main()
