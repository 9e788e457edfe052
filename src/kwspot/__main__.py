"""`python -m kwspot` (also what `torchrun -m kwspot` runs)."""

from kwspot.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
