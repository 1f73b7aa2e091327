"""Campaign: petitions, statements and anonymized tallies for employees who object to a contract."""

from pathlib import Path

from flask import Flask

__version__ = "0.1.0"

ROOT = Path(__file__).resolve().parent.parent


def create_app(config=None):
    """Application factory: load config, init extensions, register blueprints, CLI, error
    handlers."""
    from config import DevelopmentConfig, config_from_environment

    app = Flask(__name__, template_folder=str(ROOT / "templates"),
                instance_path=str(ROOT / "instance"))
    if config is None:
        config = config_from_environment()
    if isinstance(config, type):
        config = (config(instance_path=app.instance_path) if config is DevelopmentConfig
                  else config())
    app.config.from_object(config)
    _refuse_unsafe_start(app, config)

    from . import database, errors, security, sessions, templating
    from .crypto import KeyRing
    from .extensions import babel, csrf, db, init_limiter, login_manager, migrate
    from .i18n import select_locale

    database.set_connect_timeout(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=config.MIGRATIONS_FOLDER, render_as_batch=True,
                     compare_type=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    init_limiter(app)
    login_manager.init_app(app)
    app.extensions["campaign_keyring"] = KeyRing(config.DATA_KEYS)
    database.configure_engine(app)
    sessions.init_app(app)
    security.init_app(app)
    templating.init_app(app)
    errors.init_app(app)

    from .admin import bp as admin_bp
    from .auth import bp as auth_bp
    from .campaigns import bp as campaigns_bp
    from .petitions import bp as petitions_bp
    from .petitions_staff import bp as petitions_staff_bp
    from .public import bp as public_bp
    from .statements import bp as statements_bp
    from .tallies import bp as tallies_bp
    from .voices_staff import bp as voices_staff_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(petitions_bp)
    app.register_blueprint(petitions_staff_bp)
    app.register_blueprint(statements_bp)
    app.register_blueprint(tallies_bp)
    app.register_blueprint(voices_staff_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(campaigns_bp)
    app.register_blueprint(admin_bp)

    from . import cli

    cli.init_app(app)
    return app


def _refuse_unsafe_start(app, config):
    problems = list(config.problems())
    if config.ENV_NAME == "production" and app.debug:
        problems.append("debug mode is on")
    for folder in (app.template_folder, config.TRANSLATIONS_FOLDER, config.MIGRATIONS_FOLDER):
        if not Path(folder).is_dir():
            problems.append(f"missing folder {folder}")
    if problems:
        raise RuntimeError("refusing to start: " + "; ".join(problems))
