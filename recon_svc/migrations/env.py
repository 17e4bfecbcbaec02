from alembic import context

from mesh.migrations import run_env

run_env(context)
