"""Cron schedules: pure fire-time maths and the loop that creates due calls."""
