"""The main job: stages of a reproduction (cached), and the report built from their results."""
