from compbench.cli import main

main()
