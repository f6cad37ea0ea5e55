"""Tables, queries and migrations: the only package that speaks SQL. It never commits."""
