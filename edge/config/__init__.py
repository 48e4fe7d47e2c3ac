"""The device configuration: pydantic models (:mod:`.models`), loading with environment overrides
(:mod:`.loading`) and secrets (:mod:`.secrets`). Everything a caller needs is re-exported here."""

from cribside.edge.config.loading import *  # noqa: F403
from cribside.edge.config.loading import __all__  # noqa: F401
