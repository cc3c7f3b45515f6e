"""The multimodal framework of issue 12 (docs/multimodal.md):

* ST-Former (stformer.py): thermal patches + sensor tokens -> risk embedding R_t (512-d)
* FUSE-GEN (fusegen.py): VAE joint latent J_t (1024-d) of R_t and the AE spectrum
* DEGRA-GNN (degragnn.py): graph attention over electrode segments -> degradation / risk map
* CAUS-RUN (causrun.py): counterfactual perturbation attribution and interventional estimates
* SENSOR-RL (sensorrl.py): PPO over sensing settings in a decimation environment

Inputs come from `trw export` datasets (data.py); the chain is trained part by part
into one directory (chain.py) and served over the replay protocol (cli.py).
"""
