"""Code that runs inside a function's own interpreter. Standard library only; imports nothing
from fnhost, because it must work in any environment a function is built with."""
