import sys

from cxrpilot.cli import main

sys.exit(main())
