"""Input errors shared by `emulation` and `codesign` (this module imports nothing heavy).

The CLI reports any `InputError` as one line naming what is wrong and exits with `exit_code`.
"""


class InputError(ValueError):
    """Bad user input (spec, bundle, data file, argument): one line, exit code 2."""

    exit_code = 2


class BundleError(InputError):
    """A firmware bundle that is corrupt, truncated, inconsistent or made for another spec."""
