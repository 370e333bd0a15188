from services.dataset.server import main

main()
