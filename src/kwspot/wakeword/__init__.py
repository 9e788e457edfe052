"""A wake-word detector for any phrase from text (``kwspot wakeword``).

>>> from kwspot.wakeword import WakewordConfig, run_wakeword
>>> result = run_wakeword(WakewordConfig(("hey computer",), "runs/hey",
...                                      negatives=("speech/",)))  # doctest: +SKIP
"""

from kwspot.wakeword.config import WakewordConfig
from kwspot.wakeword.pipeline import run_wakeword
from kwspot.wakeword.result import WakewordResult

__all__ = ["WakewordConfig", "WakewordResult", "run_wakeword"]
