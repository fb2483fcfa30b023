"""The Linear Representation Bench, its metrics, the paper tables, and real representations."""
