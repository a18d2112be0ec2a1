import sys

from synthetic.cli import main

sys.exit(main())
