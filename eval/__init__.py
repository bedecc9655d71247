"""Gold question/answer sets and the script that scores the system through ``qa.answer()``."""
