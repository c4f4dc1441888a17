"""Find the config file, load it safely, expand ``${VAR}``, and validate it into frozen profiles.

Every error names the file, the profile and the key, and never shows a secret's value. What each
provider accepts (secrets, options, sign-in rules, default URL) comes from its ProviderSpec in the
registry, `opwatch.providers.BUILTIN`: this module names no provider. Providers declared in YAML
(the top-level `providers:`, or `<config dir>/providers/NAME.yaml`) are validated by
`opwatch.providers.declared` into specs and registered beside the built-in ones; that module
(and jmespath) is imported only for a config that declares one.
"""

import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opwatch.durations import parse_duration
from opwatch.errors import ConfigError
from opwatch.providers import BUILTIN

if TYPE_CHECKING:
    from opwatch.providers.base import ProviderSpec

DEFAULT_TIMEOUT_S = 10.0
SECRET_COMMAND_TIMEOUT_S = 30.0
CONCURRENCY_PER_PROFILE = 8
"""Requests in flight to one profile at most: the wait engine's default, and the connections
the profile's client keeps. Here, beside the other per-profile defaults, so that the client
(session.py) need not import the engine, which `status` does not load."""

_COMMON_KEYS = frozenset({"provider", "url", "verify_tls", "ca_bundle", "timeout"})
_DECLARED_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
"""A name a declared provider's file may have: no path separators, no dot files."""
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class Secret:
    """A credential: its value is never shown by repr, str or a traceback's locals.

    A secret from a `*_command` is resolved when first needed, not when the config loads: a
    command uses only some profiles, and a helper like `pass show` may prompt or hang. It runs
    at most once per run; its value, or its failure, is kept.
    """

    __slots__ = ("_command", "_error", "_value", "source")

    def __init__(
        self,
        value: str | None,
        source: str | None = None,
        command: Callable[[], str] | None = None,
    ) -> None:
        self._value = value
        self._command = command
        self._error: ConfigError | None = None
        self.source = source
        """Where it came from, for messages: `$TOLOKA_TOKEN`, `api_key_command`, or None."""

    def resolve(self) -> None:
        """Run the secret's command unless done; raise its ConfigError (again) if it failed."""
        if self._error is not None:
            raise self._error
        if self._value is None and self._command is not None:
            try:
                self._value = self._command()
            except ConfigError as exc:
                self._error = exc
                raise
            finally:
                self._command = None

    def reveal(self) -> str:
        """The value, for the one place that sends it to the provider."""
        self.resolve()
        assert self._value is not None  # resolve() sets it or raises
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass(frozen=True)
class Profile:
    """One named account at one provider, validated."""

    name: str
    """The profile's name in the config."""
    provider: str
    """The provider's name: a key of `opwatch.providers.BUILTIN`, or a declared provider's."""
    url: str
    """Base URL, `scheme://host[:port]`, without a trailing slash."""
    verify_tls: bool = True
    """Whether to verify the server's certificate."""
    ca_bundle: str | None = None
    """A CA bundle file to verify against instead of the system's."""
    timeout_s: float = DEFAULT_TIMEOUT_S
    """Per-request timeout in seconds."""
    options: Mapping[str, str] = field(default_factory=dict)
    """Provider-specific settings that are not secret (`environment`, `api_version`, …)."""
    secrets: Mapping[str, Secret] = field(default_factory=dict)
    """Provider-specific credentials (`api_key`, `token`, `password`)."""
    source: Path | None = None
    """The config file this profile came from."""

    def secret_hint(self, key: str) -> str:
        """Where the user should look to fix the credential `key`."""
        secret = self.secrets.get(key)
        if secret is not None and secret.source:
            return secret.source
        return f"'{key}' of profile '{self.name}' in {self.source}"


@dataclass(frozen=True)
class Config:
    """A loaded config file."""

    path: Path
    profiles: Mapping[str, Profile]
    default_profile: str | None
    providers: "Mapping[str, ProviderSpec]" = field(default_factory=dict)
    """The providers this config declares (not the built-in ones), by name."""
    warnings: tuple[str, ...] = ()
    """Things the user should know that do not stop opwatch (a world-readable literal secret)."""
    broken: Mapping[str, ConfigError] = field(default_factory=dict)
    """Profiles that do not resolve (a missing variable, a bad key), with why.

    One broken profile does not stop the others from being used; using it is the error.
    """

    def get(self, name: str) -> Profile:
        """The profile `name`, or a ConfigError that lists the known ones."""
        if name in self.broken:
            raise self.broken[name]
        try:
            return self.profiles[name]
        except KeyError:
            raise self.unknown(name) from None

    def unknown(self, name: str) -> ConfigError:
        """The error for a profile name that is not in the file: the closest name, if one is
        close, and every name."""
        names = sorted([*self.profiles, *self.broken])
        import difflib  # only for a misspelt name: its import costs a status run 1 ms

        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return ConfigError(
            f"unknown profile '{name}' ({hint}profiles in {self.path}: {', '.join(names)})"
        )

    def resolve(self, names: Iterable[str]) -> None:
        """Make the secrets of the profiles `names` ready (run their `*_command`s, each once
        per run), before anything is sent; raise the first profile's ConfigError."""
        for name in dict.fromkeys(names):
            for secret in self.get(name).secrets.values():
                secret.resolve()

    def problem(self, name: str) -> ConfigError | None:
        """Why the profile `name` cannot be used, resolving its secrets; None when it can."""
        try:
            self.resolve([name])
        except ConfigError as exc:
            return exc
        return None

    def default_name(self, override: str | None = None) -> str:
        """The profile a REF without one uses: --profile, else default_profile, else the only."""
        if override:
            return self.get(override).name
        if self.default_profile:
            return self.get(self.default_profile).name
        names = [*self.profiles, *self.broken]
        if len(names) == 1:
            return self.get(names[0]).name
        raise ConfigError(
            f"{self.path} has {len(names)} profiles and no default_profile: "
            "name one with --profile, OPWATCH_PROFILE, default_profile, or a REF like profile:ID"
        )


def user_config_path(env: Mapping[str, str]) -> Path:
    """The per-user config file: `$XDG_CONFIG_HOME/opwatch/config.yaml`, else ~/.config/…"""
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "opwatch" / "config.yaml"


def find_config_path(explicit: str | None, env: Mapping[str, str]) -> Path:
    """--config, else $OPWATCH_CONFIG, else the user config file."""
    return config_source(explicit, env)[0]


def config_source(explicit: str | None, env: Mapping[str, str]) -> tuple[Path, str]:
    """The config file opwatch reads, and why that one: `--config`, `$OPWATCH_CONFIG` or
    `default` (the user config file)."""
    if explicit:
        return Path(explicit).expanduser(), "--config"
    if env.get("OPWATCH_CONFIG"):
        return Path(env["OPWATCH_CONFIG"]).expanduser(), "$OPWATCH_CONFIG"
    return user_config_path(env), "default"


def load_config(path: Path, env: Mapping[str, str]) -> Config:
    """Read and validate the config at `path`, expanding variables from `env`."""
    import yaml  # deferred: start-up time matters for a command run thousands of times a day

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"no config file at {path}: 'opwatch config init' writes a starter one there, "
            "or pass --config / set OPWATCH_CONFIG"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.__class__.__name__}") from None
    try:
        document = _safe_load(yaml, text)
    except yaml.YAMLError as exc:
        # Only the problem and its position: the YAML error's own text quotes the file's lines,
        # which may hold a secret.
        raise ConfigError(f"{path} is not valid YAML: {_yaml_problem(exc)}") from None
    return parse_config(document, path, env, world_readable=_readable_by_others(path))


def parse_config(
    document: object, path: Path, env: Mapping[str, str], *, world_readable: bool = False
) -> Config:
    """Validate an already-parsed YAML document into a Config."""
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: the top level must be a mapping with a 'profiles' key")
    unknown = set(document) - {"profiles", "default_profile", "providers"}
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key {_first(unknown)!r}")
    raw_profiles = document.get("profiles") or {}
    if not isinstance(raw_profiles, dict):
        raise ConfigError(f"{path}: 'profiles' must be a mapping of profile names to settings")
    if not raw_profiles:
        raise ConfigError(f"{path} defines no profiles")

    providers = _Providers(path, document.get("providers"))
    warnings: list[str] = []
    profiles: dict[str, Profile] = {}
    broken: dict[str, ConfigError] = {}
    for name, settings in raw_profiles.items():
        name = str(name)
        if ":" in name or not name.strip():
            raise ConfigError(f"{path}: profile name {name!r} must be non-empty and have no ':'")
        try:
            profiles[name] = _parse_profile(
                name, settings, path, env, world_readable, warnings, providers
            )
        except ConfigError as exc:
            broken[name] = exc

    default = document.get("default_profile")
    if default is not None:
        default = _expand(str(default), env, f"{path}: default_profile")
        if default not in profiles and default not in broken:
            raise ConfigError(f"{path}: default_profile '{default}' is not a profile")
    return Config(path, profiles, default, providers.declared, tuple(warnings), broken)


class _Providers:
    """The specs a profile's `provider:` may name: built in, declared under `providers:`, or
    declared in `<config dir>/providers/NAME.yaml` (read when a profile names it)."""

    def __init__(self, path: Path, raw: object) -> None:
        self.directory = path.parent / "providers"
        self.declared: dict[str, ProviderSpec] = {}
        if raw is None:
            return
        if not isinstance(raw, dict):
            raise ConfigError(
                f"{path}: 'providers' must be a mapping of provider names to definitions "
                "(inline, or {file: PATH})"
            )
        from opwatch.providers import declared  # jmespath: only for a config that declares

        for name, entry in raw.items():
            name = str(name)
            if name in BUILTIN:
                raise ConfigError(
                    f"{path}: providers.{name}: '{name}' is a built-in provider; "
                    "give the declared one another name"
                )
            cls = declared.declare(name, entry, path.parent, f"{path}: providers.{name}")
            self.declared[name] = cls.spec

    def spec(self, name: object, where: str) -> "ProviderSpec":
        """The spec of the provider called `name`, or a ConfigError listing what there is."""
        if isinstance(name, str) and name in BUILTIN:
            return BUILTIN[name]
        if isinstance(name, str) and name in self.declared:
            return self.declared[name]
        file = self.directory / f"{name}.yaml"
        if isinstance(name, str) and _DECLARED_NAME.match(name) and file.is_file():
            from opwatch.providers import declared

            self.declared[name] = declared.register(declared.load_file(name, file)).spec
            return self.declared[name]
        raise ConfigError(
            f"{where}: 'provider' must be one of {', '.join([*BUILTIN, *self.declared])} "
            f"(got {name!r}), or a definition in {self.directory}/NAME.yaml"
        )


def _parse_profile(
    name: str,
    settings: object,
    path: Path,
    env: Mapping[str, str],
    world_readable: bool,
    warnings: list[str],
    providers: _Providers,
) -> Profile:
    where = f"{path}: profile '{name}'"
    if not isinstance(settings, dict):
        raise ConfigError(f"{where} must be a mapping of settings")
    provider = settings.get("provider")
    spec = providers.spec(provider, where)
    secret_keys = spec.secret_keys
    allowed = (
        _COMMON_KEYS | set(secret_keys) | {f"{k}_command" for k in secret_keys} | set(spec.options)
    )
    unknown = set(map(str, settings)) - allowed
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {_first(unknown)!r} for provider {spec.name} "
            f"(known: {', '.join(sorted(allowed))})"
        )

    def text(key: str) -> str | None:
        value = settings.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigError(f"{where}: '{key}' must be a string")
        return _expand(str(value), env, f"{where}, key '{key}'")

    secrets: dict[str, Secret] = {}
    for key in secret_keys:
        secret = _secret(key, settings, env, where)
        if secret is None:
            continue
        secrets[key] = secret
        if secret.source is None and world_readable:
            warnings.append(
                f"{path} holds a literal secret ('{key}' of profile '{name}') and is readable "
                f"by group or others: chmod 600 {path}, or use ${{VARIABLE}} or {key}_command"
            )

    options: dict[str, str] = {}
    for key, allowed_values in spec.options.items():
        # YAML reads `api_version: 5.0` as a number; str(5.0) gives back the text "5.0".
        value = text(key)
        if value is None:
            continue
        if allowed_values is not None and value not in allowed_values:
            raise ConfigError(
                f"{where}: '{key}' must be one of {', '.join(allowed_values)} (got {value!r})"
            )
        options[key] = value

    url = text("url")
    if url is None:
        if spec.default_url is None:
            raise ConfigError(f"{where}: 'url' is required for {spec.label} (https://host[:port])")
        url = spec.default_url(options)
    # Loaded already with the provider's spec; not at the top, where `--help` would pay for it.
    from opwatch.providers.base import has_userinfo

    if has_userinfo(url):
        # Checked before any message that shows the URL: its password would be printed.
        raise ConfigError(
            f"{where}: 'url' must not hold a user name or password; {_secret_home(spec)}"
        )
    if not re.match(r"^https?://[^/\s]+", url):
        raise ConfigError(f"{where}: 'url' must look like https://host[:port] (got {url!r})")

    ca_bundle = text("ca_bundle")
    if ca_bundle is not None and not Path(ca_bundle).expanduser().is_file():
        raise ConfigError(f"{where}: 'ca_bundle' {ca_bundle!r} is not a readable file")
    verify_tls = _boolean(settings.get("verify_tls", True), env, f"{where}, key 'verify_tls'")
    if not verify_tls and ca_bundle is not None:
        # One of them is a mistake, and opwatch cannot tell which: checking against the
        # bundle while saying nothing is checked, or the reverse, would both mislead.
        raise ConfigError(
            f"{where}: 'verify_tls: false' and 'ca_bundle' contradict each other; keep "
            "ca_bundle to check the certificate against it, or verify_tls: false not to check"
        )
    _check_credentials(spec, secrets, options, where)
    return Profile(
        name=name,
        provider=spec.name,
        url=url.rstrip("/"),
        verify_tls=verify_tls,
        ca_bundle=str(Path(ca_bundle).expanduser()) if ca_bundle else None,
        timeout_s=_timeout(settings.get("timeout"), env, where),
        options=options,
        secrets=secrets,
        source=path,
    )


def _secret_home(spec: "ProviderSpec") -> str:
    """Where a profile of `spec`'s provider gives its credential, said as advice."""
    if not spec.secret_keys:
        return f"opwatch sends no credential to {spec.label}"
    keys = " or ".join(f"'{key}'" for key in spec.secret_keys)
    return f"give the credential as {keys} (or {spec.secret_keys[0]}_command)"


def _secret(
    key: str, settings: dict[Any, Any], env: Mapping[str, str], where: str
) -> Secret | None:
    command_key = f"{key}_command"
    value = settings.get(key)
    command = settings.get(command_key)
    if value is not None and command is not None:
        raise ConfigError(f"{where}: give '{key}' or '{command_key}', not both")
    if command is not None:
        argv = _command_line(command, env, f"{where}, key '{command_key}'")
        return Secret(
            None,
            source=f"the command in '{command_key}' of {where}",
            command=lambda: _run_secret_command(argv, env, f"{where}, key '{command_key}'"),
        )
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ConfigError(f"{where}: '{key}' must be a string")
    raw = str(value)
    names = [m.group(1) for m in _VARIABLE.finditer(raw)]
    expanded = _expand(raw, env, f"{where}, key '{key}'")
    if not expanded:
        raise ConfigError(
            f"{where}: '{key}' is empty" + (f" (${names[0]} is empty)" if names else "")
        )
    return Secret(expanded, source=f"${names[0]}" if names else None)


def _command_line(command: object, env: Mapping[str, str], where: str) -> list[str]:
    """A credential helper's argv, checked when the config loads (it runs later, if used)."""
    import shlex

    if isinstance(command, str):
        try:
            argv = shlex.split(_expand(command, env, where))
        except ValueError as exc:  # an unclosed quote
            raise ConfigError(f"{where}: {exc}") from None
    elif isinstance(command, list) and all(isinstance(a, str) for a in command):
        argv = [_expand(a, env, where) for a in command]
    else:
        raise ConfigError(f"{where} must be a command line (a string or a list of strings)")
    if not argv:
        raise ConfigError(f"{where} is empty")
    return argv


def _run_secret_command(argv: list[str], env: Mapping[str, str], where: str) -> str:
    """Run a credential helper without a shell; its output is never echoed in errors."""
    import subprocess

    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=SECRET_COMMAND_TIMEOUT_S,
            env=dict(env),
            check=False,
        )
    except FileNotFoundError:
        raise ConfigError(f"{where}: command not found: {argv[0]}") from None
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"{where}: {argv[0]} did not finish within {SECRET_COMMAND_TIMEOUT_S:.0f}s"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot run {argv[0]}: {exc.strerror}") from None
    if done.returncode != 0:
        raise ConfigError(f"{where}: {argv[0]} exited with status {done.returncode}")
    lines = done.stdout.splitlines()
    secret = lines[0].strip() if lines else ""
    if not secret:
        raise ConfigError(f"{where}: {argv[0]} printed nothing")
    return secret


def _check_credentials(
    spec: "ProviderSpec", secrets: Mapping[str, Secret], options: Mapping[str, str], where: str
) -> None:
    missing = spec.missing_credentials({*secrets, *options})
    if missing:
        raise ConfigError(f"{where}: {missing}")


def _expand(value: str, env: Mapping[str, str], where: str) -> str:
    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(f"{where}: environment variable {name} is not set")

    return _VARIABLE.sub(substitute, value)


def _boolean(value: object, env: Mapping[str, str], where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = _expand(value, env, where).strip().lower()
        if word in ("true", "yes", "on", "1"):
            return True
        if word in ("false", "no", "off", "0"):
            return False
    raise ConfigError(f"{where} must be true or false (got {value!r})")


def _timeout(value: object, env: Mapping[str, str], where: str) -> float:
    if value is None:
        return DEFAULT_TIMEOUT_S
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigError(f"{where}: 'timeout' must be a duration like 10s")
    try:
        seconds = parse_duration(_expand(str(value), env, f"{where}, key 'timeout'"))
    except ValueError as exc:
        raise ConfigError(f"{where}: 'timeout': {exc}") from None
    if seconds <= 0:
        raise ConfigError(f"{where}: 'timeout' must be more than 0")
    return seconds


def _safe_load(yaml: Any, text: str) -> object:
    """`yaml.safe_load(text)`, parsed by libyaml where PyYAML was built with it.

    The same SafeConstructor and resolver build the result either way (same types, same
    refusal of Python tags); libyaml's parser only saves a start-up about 1 ms a config. Its
    error messages are vaguer ("found character that cannot start any token", where PyYAML
    names the tab), so a broken file is parsed again by PyYAML's own parser for the message.
    """
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is None:
        return yaml.safe_load(text)
    try:
        return yaml.load(text, Loader=loader)  # CSafeLoader: the safe constructor
    except yaml.YAMLError:
        # Raises again with PyYAML's wording and position (or reads what only libyaml refused).
        return yaml.safe_load(text)


def _yaml_problem(exc: Exception) -> str:
    problem = getattr(exc, "problem", None) or "cannot parse"
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return str(problem)


def _readable_by_others(path: Path) -> bool:
    if os.name != "posix":
        return False
    try:
        return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))
    except OSError:
        return False


def _first(keys: set[Any]) -> str:
    return sorted(map(str, keys))[0]
