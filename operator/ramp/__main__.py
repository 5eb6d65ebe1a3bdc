from ramp.cli.app import main

main()
