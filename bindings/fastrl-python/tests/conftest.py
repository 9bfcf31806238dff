import os
import sys

# Let tests import the example modules (examples/) without installing them.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
