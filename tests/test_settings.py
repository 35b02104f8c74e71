"""Every setting is documented in the README's configuration table."""

from pathlib import Path

from agent.settings import Settings

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_every_setting_is_in_the_readme() -> None:
    missing = [name for name in Settings.model_fields if f"`UMREVIEW_{name.upper()}`" not in README]
    assert missing == []


def test_api_key_never_prints(monkeypatch) -> None:
    monkeypatch.setenv("UMREVIEW_OPENAI_API_KEY", "sk-secret-value")
    settings = Settings()
    assert "sk-secret-value" not in repr(settings) and "sk-secret-value" not in str(settings.model_dump())
