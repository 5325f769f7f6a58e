"""Recipe runners: a recipe spec (``type: train`` ...) compiled into Lightning objects and run."""
