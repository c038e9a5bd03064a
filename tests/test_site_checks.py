"""The browser finder of the reader tests (tests/site_checks.py), without a browser."""
import site_checks as sc


def test_the_newest_playwright_chromium_is_found_by_build_number(tmp_path, monkeypatch):
    for build in ("999", "1100", "1099"):
        chrome = tmp_path / f"chromium-{build}" / "chrome-linux" / "chrome"
        chrome.parent.mkdir(parents=True)
        chrome.write_text("")
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    assert sc.playwright_chromium() == str(tmp_path / "chromium-1100" / "chrome-linux" / "chrome")


def test_no_playwright_chromium(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    assert sc.playwright_chromium() is None


def test_playwrights_macos_chromium_is_found(tmp_path, monkeypatch):
    chrome = tmp_path / "chromium-1200" / "chrome-mac" / "Chromium.app" / "Contents" / "MacOS" / "Chromium"
    chrome.parent.mkdir(parents=True)
    chrome.write_text("")
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    assert sc.playwright_chromium() == str(chrome)
