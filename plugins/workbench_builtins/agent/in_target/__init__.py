"""Code that runs inside the target process. Never imported by the workbench: read as a file."""
