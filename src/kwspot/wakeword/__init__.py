"""A wake-word detector for any phrase from text (``kwspot wakeword``).

>>> from kwspot.wakeword.config import WakewordConfig
>>> from kwspot.wakeword.pipeline import run_wakeword
>>> result = run_wakeword(WakewordConfig(("hey computer",), "runs/hey",
...                                      negatives=("speech/",)))  # doctest: +SKIP

The package itself imports nothing heavy: the command line reads
:class:`~kwspot.wakeword.config.WakewordConfig` to build its options, also where only the
torch-free inference commands are used.
"""
