"""Scale-out: a stage's work items split into N deterministic shards (by slot), each a task running the
ordinary resumable stage code on its own SQLite file under `<db>.shards/`, merged into the main database
by content id (localace.store.merge). Ray schedules the tasks (localace.scale.ray_exec); nothing here
imports Ray, so the sharding logic runs and is tested without it."""
