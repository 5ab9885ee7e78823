from latticework.cli import main

main()
