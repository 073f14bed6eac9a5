"""Running zeta_rmt on Vertex AI (docs/vertex_ai.md).

* ``python -m zeta_rmt.launch [--dry-run] [--wait] [Hydra overrides]``: one CustomJob (or, with
  ``hparams_search=vizier``, one HyperparameterTuningJob) built from the composed training
  config (:mod:`.spec`) and submitted with the google-cloud-aiplatform SDK (:mod:`.client`).
* ``python -m zeta_rmt.train -m hydra/launcher=vertex ...``: one CustomJob per sweep point
  (``hydra_plugins/zeta_rmt_vertex_launcher``).
* At run time (no cloud SDK needed): outputs on ``gs://``, ``last.ckpt`` and automatic
  resumption after a restart (:mod:`.runtime`, :mod:`.storage`), and the metric report and
  parameter flags of a Vizier trial (:mod:`.hpt`); in a multi-node job (``hardware=l4x4``),
  each process's node and global rank from Vertex AI's ``CLUSTER_SPEC`` (:mod:`.cluster_env`).

Google Cloud libraries are imported only when a job is built or submitted, or a ``gs://``
URL is used (the ``gcp`` extra).
"""
