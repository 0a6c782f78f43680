"""One experiment's steps (steps.py) and how a request becomes a spec (launch.py): the
engine side of the `experiment` and `sweep` flows."""
