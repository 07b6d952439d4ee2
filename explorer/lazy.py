"""Packages that import their submodules on first use (PEP 562), so that importing a package — or a page that
names one — does not pull in torch. ``from explorer import analysis`` costs nothing; ``analysis.probing`` imports
the probing module the first time it is used. (``from explorer.analysis import probing`` imports it at once.)"""
import importlib
import importlib.util
import pkgutil
import sys


def attach(package: str, exports: dict[str, list[str]] | None = None):
    """``__getattr__`` and ``__dir__`` for ``package``: its submodules, and the names in ``exports`` (submodule ->
    the names it defines that the package re-exports), imported when first asked for."""
    home = {name: sub for sub, names in (exports or {}).items() for name in names}

    def __getattr__(name):
        if name in home:
            value = getattr(importlib.import_module(f".{home[name]}", package), name)
        elif not name.startswith("_") and importlib.util.find_spec(f"{package}.{name}"):
            value = importlib.import_module(f".{name}", package)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        submodules = [m.name for m in pkgutil.iter_modules(sys.modules[package].__path__)]
        return sorted({*vars(sys.modules[package]), *home, *submodules})

    return __getattr__, __dir__
