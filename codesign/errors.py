"""Error types of the codesign package; all derive from `emulation.errors.InputError`."""

from emulation.errors import BundleError, InputError

CodesignError = InputError


class SpecError(InputError):
    """A constraint spec that does not validate, or that no design can satisfy."""


__all__ = ["BundleError", "CodesignError", "InputError", "SpecError"]
