"""Append-only schema migrations. Never edit or reorder an entry: add a new one at the end."""

from __future__ import annotations

MIGRATIONS: list[tuple[str, str]] = [
    (
        "001_core",
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY, created_at TEXT NOT NULL, command TEXT NOT NULL,
            config_json TEXT NOT NULL, config_hash TEXT NOT NULL, status TEXT NOT NULL,
            report_json TEXT
        );
        CREATE TABLE sessions (
            id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL, command TEXT NOT NULL
        );
        CREATE TABLE generations (
            key TEXT PRIMARY KEY, backend TEXT NOT NULL, fingerprint TEXT NOT NULL,
            template_hash TEXT NOT NULL, request_json TEXT NOT NULL, ok INTEGER NOT NULL,
            text TEXT, value_json TEXT, error_kind TEXT, error_message TEXT,
            prompt_tokens INTEGER NOT NULL DEFAULT 0, cached_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0, seconds REAL NOT NULL DEFAULT 0,
            finish_reason TEXT, created_at TEXT NOT NULL
        );
        CREATE TABLE call_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT, session_id INTEGER, key TEXT NOT NULL,
            hit INTEGER NOT NULL, ok INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL,
            cached_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
            seconds REAL NOT NULL, created_at TEXT NOT NULL
        );
        CREATE INDEX call_log_session ON call_log(session_id);
        CREATE TABLE file_hashes (
            path TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
            sha256 TEXT NOT NULL, PRIMARY KEY (path, size, mtime_ns)
        );
        CREATE TABLE apis (
            id TEXT PRIMARY KEY, run_id TEXT, name TEXT NOT NULL, top_domain TEXT,
            data_json TEXT NOT NULL, created_at TEXT NOT NULL
        );
        CREATE INDEX apis_name ON apis(name);
        CREATE TABLE dialogs (
            id TEXT PRIMARY KEY, run_id TEXT, kind TEXT NOT NULL, domains TEXT,
            complexity REAL, status TEXT NOT NULL, data_json TEXT NOT NULL, created_at TEXT NOT NULL
        );
        CREATE INDEX dialogs_kind ON dialogs(kind);
        CREATE TABLE verdicts (
            id TEXT PRIMARY KEY, dialog_id TEXT NOT NULL, stage TEXT NOT NULL, check_name TEXT NOT NULL,
            passed INTEGER NOT NULL, reason TEXT, created_at TEXT NOT NULL
        );
        CREATE INDEX verdicts_dialog ON verdicts(dialog_id);
        """,
    ),
    (
        "002_api_synthesis",
        """
        CREATE TABLE tree_nodes (
            id TEXT PRIMARY KEY, tree TEXT NOT NULL, parent_id TEXT, name TEXT NOT NULL,
            norm_name TEXT NOT NULL, depth INTEGER NOT NULL, top_domain TEXT NOT NULL,
            source_doc TEXT, created_at TEXT NOT NULL
        );
        CREATE INDEX tree_nodes_tree ON tree_nodes(tree, depth);
        CREATE TABLE work_items (
            run_id TEXT NOT NULL, stage TEXT NOT NULL, idx INTEGER NOT NULL, status TEXT NOT NULL,
            attempts INTEGER NOT NULL, result_id TEXT, created_at TEXT NOT NULL,
            PRIMARY KEY (run_id, stage, idx)
        );
        CREATE TABLE rejections (
            id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, stage TEXT NOT NULL, idx INTEGER,
            attempt INTEGER, check_name TEXT NOT NULL, reason TEXT NOT NULL, payload_json TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX rejections_run ON rejections(run_id, stage);
        ALTER TABLE apis ADD COLUMN parent_id TEXT;
        ALTER TABLE apis ADD COLUMN operators TEXT;
        ALTER TABLE apis ADD COLUMN source TEXT;
        ALTER TABLE apis ADD COLUMN norm_key TEXT;
        ALTER TABLE apis ADD COLUMN seq INTEGER
        """,
    ),
    (
        "003_dialogs",
        """
        ALTER TABLE dialogs ADD COLUMN seq INTEGER;
        ALTER TABLE dialogs ADD COLUMN api_ids TEXT;
        ALTER TABLE dialogs ADD COLUMN n_turns INTEGER;
        CREATE INDEX dialogs_run ON dialogs(run_id, seq);
        CREATE TABLE dialog_apis (dialog_id TEXT NOT NULL, api_id TEXT NOT NULL, PRIMARY KEY (dialog_id, api_id));
        CREATE INDEX dialog_apis_api ON dialog_apis(api_id)
        """,
    ),
    (
        "004_verification",
        """
        ALTER TABLE dialogs ADD COLUMN rejected_at TEXT;
        CREATE INDEX dialogs_status ON dialogs(run_id, status)
        """,
    ),
    (
        "005_eval",
        """
        CREATE TABLE eval_results (
            id TEXT PRIMARY KEY, model TEXT NOT NULL, mode TEXT NOT NULL, entry_id TEXT NOT NULL,
            category TEXT NOT NULL, raw_output TEXT, decoded_json TEXT, valid INTEGER NOT NULL,
            error_type TEXT, message TEXT, created_at TEXT NOT NULL, fallback TEXT
        );
        CREATE INDEX eval_results_entry ON eval_results(model, mode, entry_id)
        """,
    ),
    (
        "006_generation_status_index",
        # `localace stats` counts cached successes and failures; without this index each count reads
        # every cached request (kilobytes of prompt per row): ~0.1 s per 50,000 generations, each.
        """
        CREATE INDEX generations_ok ON generations(ok)
        """,
    ),
    (
        "007_dialog_status_seq_index",
        # Verification resumes with `WHERE run_id=? AND status='generated' ORDER BY seq`; with only
        # (run_id, seq) and (run_id, status) indexes SQLite walks every dialog of the run in seq order
        # and reads each row to test its status. This index answers it (and export's 'kept' scan) in order.
        """
        CREATE INDEX dialogs_run_status_seq ON dialogs(run_id, status, seq)
        """,
    ),
    (
        "016_merge_and_shards",
        # `localace merge` and sharded runs (issue 16). store_meta.uid tells this database's sessions apart
        # from another's with the same ids; merged_sessions remembers which source sessions (and how far into
        # their call log) were appended, so merging a source twice adds nothing. Rejections get a content
        # origin so they merge once. shard_targets: the per-shard row targets of a sharded stage, persisted
        # so that a killed driver resumes with the same targets. apis(norm_key): name checks at merge/synthesis.
        """
        CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO store_meta VALUES ('uid', lower(hex(randomblob(16))));
        ALTER TABLE rejections ADD COLUMN origin TEXT;
        CREATE UNIQUE INDEX rejections_origin ON rejections(origin);
        CREATE TABLE merged_sessions (origin TEXT PRIMARY KEY, session_id INTEGER, last_call_id INTEGER NOT NULL);
        CREATE INDEX apis_norm_key ON apis(norm_key);
        CREATE TABLE shard_targets (
            run_id TEXT NOT NULL, stage TEXT NOT NULL, shard INTEGER NOT NULL, shards INTEGER NOT NULL,
            total INTEGER NOT NULL, target INTEGER NOT NULL, updated_at TEXT NOT NULL,
            PRIMARY KEY (run_id, stage, shard)
        )
        """,
    ),
    (
        "017_train_checkpoints",
        # `localace train`: the last checkpoint of each training run (LoRA factors, optimizer state, step), so a
        # killed training resumes where it stopped. One row per run, replaced at every checkpoint.
        """
        CREATE TABLE train_checkpoints (
            run_id TEXT PRIMARY KEY, step INTEGER NOT NULL, total_steps INTEGER NOT NULL,
            state BLOB NOT NULL, created_at TEXT NOT NULL
        )
        """,
    ),
]
