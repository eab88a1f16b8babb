"""The engine exception tree. Each engine adapter translates its library's errors here, once,
chained with ``from``::

    EngineError
    ├── ImageNotFound       the image is not present locally (create without a pull)
    ├── PullError           the registry or the engine refused a pull (message = engine text)
    ├── StartError          create or start refused (message = engine text, e.g. HCS 0xc0370101)
    ├── ContainerNotFound   no such container (already removed)
    ├── ExecTimeout         a command run in a container (a probe) outlived its timeout
    └── EngineUnavailable   the engine cannot be reached (temporary; retried in the adapter)
"""

from __future__ import annotations


class EngineError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ImageNotFound(EngineError):
    pass


class PullError(EngineError):
    pass


class StartError(EngineError):
    pass


class ContainerNotFound(EngineError):
    pass


class ExecTimeout(EngineError):
    pass


class EngineUnavailable(EngineError):
    pass
