"""Running calls: the dispatcher claims them, an executor runs each in an isolated process."""
