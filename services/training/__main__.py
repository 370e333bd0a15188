from services.training.server import main

main()
