from flakehunt.launch import main

main()
