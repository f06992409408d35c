"""The app that lesson model modules (content/models/<name>.py) are loaded into, labelled
``lab``: a module loaded as ``sandbox.lab.models_app.<name>`` belongs to it, so its tables are
``lab_<model>`` without the instructor writing ``app_label``."""
