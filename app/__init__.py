"""Dance tutor: practise the Kazakh eagle dance (Burkit bi) in front of a webcam."""

__version__ = "0.1.0"
