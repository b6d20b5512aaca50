#!/usr/bin/env python3
"""End-to-end test of the `emovec serve` web page in headless Chromium (Selenium).

    python tests/py/browser_chat.py --emovec build/emovec --model smollm2-135m-instruct --out DIR

Starts the server (tests/py/emovec_server.py), opens `/`, and checks that:
  - the page shows a slider for each of anger, disgust, fear, joy, sadness;
  - a message sent with joy = 2, temperature 0 and max tokens 24 streams back a non-empty
    reply that equals the non-streaming /v1/chat/completions reply for the same request,
    and differs from the unsteered reply (so the slider reaches the server);
  - a second turn in the same conversation works and sends the whole conversation;
  - the prompt-cache box is off by default, and ticked it sends `cache_prompt: true`;
  - a bad request (max tokens -5) shows `error: ...` in #status.
Writes DIR/browser_chat.png (after the first reply) and DIR/browser_chat.html (final page).

Needs Debian's chromium and chromium-driver, and the `selenium` package; Selenium Manager is
never used (the driver and browser are given explicitly).
"""

import argparse
import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from emovec_server import EmovecServer  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

EMOTIONS = ["anger", "disgust", "fear", "joy", "sadness"]
REPLY_TIMEOUT = 120
QUESTION_1 = "How do you feel about the weather today?"
QUESTION_2 = "And what would you do this afternoon?"
MAX_TOKENS = 24


class TestFailure(Exception):
    pass


def check(cond, message):
    if not cond:
        raise TestFailure(message)


def post_json(url, body, timeout=REPLY_TIMEOUT):
    """POSTs JSON; returns (status, parsed body)."""
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")


def direct_reply(server, messages, emotion):
    body = {"model": "test", "messages": messages, "temperature": 0, "max_tokens": MAX_TOKENS}
    if emotion is not None:
        body["emotion"] = emotion
    status, resp = post_json(server.url + "/v1/chat/completions", body)
    check(status == 200, "direct POST %s -> %d %s" % (json.dumps(body), status, resp))
    try:
        return resp["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise TestFailure("direct POST: no choices[0].message.content in %r" % (resp,))


def make_driver():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    check(chromium is not None, "chromium not found on PATH")
    check(chromedriver is not None, "chromedriver not found on PATH")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)


def status_text(driver):
    return driver.find_element(By.ID, "status").text.strip()


def wait_status(driver, accept, what, timeout=REPLY_TIMEOUT):
    """Waits until accept(#status text) holds; returns the text."""
    seen = []

    def cond(d):
        t = status_text(d)
        if not seen or seen[-1] != t:
            seen.append(t)
        return t if accept(t) else False

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(cond)
    except Exception:
        raise TestFailure("waited %d s for #status to be %s; saw %r" % (timeout, what, seen))


def set_number(driver, element_id, value):
    el = driver.find_element(By.ID, element_id)
    el.clear()
    el.send_keys(str(value))
    got = el.get_attribute("value")
    check(got == str(value), "#%s: typed %r, input holds %r" % (element_id, value, got))


def set_slider(driver, name, value):
    """Moves the slider with the keyboard, like a user (arrow keys move it one step)."""
    slider = driver.find_element(By.ID, "slider-" + name)
    step = float(slider.get_attribute("step"))
    slider.click()  # focuses it (and may move it to the click point): re-read the value
    current = float(slider.get_attribute("value"))
    steps = round((value - current) / step)
    key = Keys.ARROW_RIGHT if steps > 0 else Keys.ARROW_LEFT
    if steps:
        slider.send_keys(*([key] * abs(steps)))
    got = float(slider.get_attribute("value"))
    check(got == value, "slider %s: wanted %g, holds %g" % (name, value, got))
    label = driver.find_element(By.ID, "value-" + name).text if driver.find_elements(
        By.ID, "value-" + name) else None
    return label


def messages_of(driver, role):
    return driver.find_elements(By.CSS_SELECTOR, "#messages .message." + role)


def content_of(element):
    # textContent, not .text: .text is the rendered text and may differ in whitespace.
    return element.find_element(By.CSS_SELECTOR, ".content").get_attribute("textContent")


def send_message(driver, text):
    prompt = driver.find_element(By.ID, "prompt")
    prompt.clear()
    prompt.send_keys(text)
    driver.find_element(By.ID, "send").click()


def take_turn(driver, text, turn):
    """Sends text as turn 1 or 2 of the conversation and waits for the reply; checks the page then
    holds `turn` user and `turn` assistant messages. Returns (user, assistant) message elements."""
    ordinal, count = {1: ("first", "one turn"), 2: ("second", "two turns")}[turn]
    send_message(driver, text)
    wait_status(driver, lambda t: t == "ready", "'ready' after the %s reply" % ordinal)
    assistants = messages_of(driver, "assistant")
    users = messages_of(driver, "user")
    check(len(assistants) == turn and len(users) == turn,
          "after %s: %d user / %d assistant messages" % (count, len(users), len(assistants)))
    return users, assistants


def run(args):
    checks = []
    env = {}
    if "EMOVEC_DATA_DIR" not in os.environ:
        env["EMOVEC_DATA_DIR"] = os.path.dirname(os.path.dirname(HERE))
    server = EmovecServer(args.emovec, args.model, ["--parallel", "2", "-t", "2"], env=env)
    driver = None
    try:
        server.start()
        print("server: %s" % server.url)
        driver = make_driver()
        driver.set_window_size(1280, 900)
        # Make the page's viewport itself 1280x900 (the window size includes browser chrome).
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 1280, "height": 900, "deviceScaleFactor": 1,
                                "mobile": False})
        driver.get(server.url + "/")
        wait_status(driver, lambda t: t == "ready", "'ready' after loading", timeout=30)

        # Sliders for the five emotions, range -2..4 step 0.25, at 0.
        for name in EMOTIONS:
            found = driver.find_elements(By.ID, "slider-" + name)
            check(found, "no slider #slider-%s" % name)
            s = found[0]
            check(s.get_attribute("type") == "range", "#slider-%s is not a range input" % name)
            attrs = [s.get_attribute(a) for a in ("min", "max", "step", "value")]
            check([float(a) for a in attrs] == [-2, 4, 0.25, 0],
                  "#slider-%s min/max/step/value = %s" % (name, attrs))
        order = [e.get_attribute("id")[len("slider-"):] for e in
                 driver.find_elements(By.CSS_SELECTOR, "input[type=range][id^=slider-]")]
        check(order[:5] == EMOTIONS, "slider order %s: the five emotions should come first" % order)
        check(float(driver.find_element(By.ID, "temperature").get_attribute("value")) == 0.7,
              "temperature default is not 0.7")
        check(int(driver.find_element(By.ID, "max-tokens").get_attribute("value")) == 128,
              "max tokens default is not 128")
        checks.append("page loads; sliders %s (-2..4 step 0.25, 0) in order; defaults 0.7 / 128"
                      % ", ".join(order))

        # First turn: joy = 2, greedy, 24 tokens.
        set_number(driver, "temperature", 0)
        set_number(driver, "max-tokens", MAX_TOKENS)
        label = set_slider(driver, "joy", 2.0)
        check(label is None or "2" in label, "joy label shows %r after moving it to 2" % label)
        users, assistants = take_turn(driver, QUESTION_1, 1)
        check(content_of(users[0]) == QUESTION_1, "user message shows %r" % content_of(users[0]))
        reply1 = content_of(assistants[0])
        check(reply1.strip() != "", "the first assistant reply is empty")
        mix = json.loads(assistants[0].get_attribute("data-emotion") or "null")
        check(mix == {"joy": 2}, "data-emotion of the reply is %r, expected {\"joy\": 2}" % (mix,))
        driver.save_screenshot(os.path.join(args.out, "browser_chat.png"))
        print("first reply (joy=2, streamed): %r" % reply1)

        msgs1 = [{"role": "user", "content": QUESTION_1}]
        direct = direct_reply(server, msgs1, {"joy": 2})
        check(reply1 == direct,
              "streamed page reply differs from the direct non-streaming reply:\n"
              "  page:   %r\n  direct: %r" % (reply1, direct))
        plain = direct_reply(server, msgs1, None)
        print("unsteered reply (direct):      %r" % plain)
        check(plain != reply1, "the joy=2 reply equals the unsteered reply: the slider had no effect")
        checks.append("streamed reply with joy=2 == non-streaming POST reply (%d chars)" % len(reply1))
        checks.append("reply differs from the unsteered one (the slider reaches the server)")

        # Second turn: the whole conversation is sent.
        users, assistants = take_turn(driver, QUESTION_2, 2)
        check(content_of(assistants[0]) == reply1, "the first reply changed during the second turn")
        reply2 = content_of(assistants[1])
        check(reply2.strip() != "", "the second assistant reply is empty")
        msgs2 = msgs1 + [{"role": "assistant", "content": reply1},
                         {"role": "user", "content": QUESTION_2}]
        direct2 = direct_reply(server, msgs2, {"joy": 2})
        check(reply2 == direct2,
              "second streamed reply differs from the direct reply for the whole conversation:\n"
              "  page:   %r\n  direct: %r" % (reply2, direct2))
        print("second reply (joy=2, streamed): %r" % reply2)
        checks.append("second turn: 2 user + 2 assistant messages; reply == direct POST of the "
                      "whole conversation")

        # The prompt-cache box: off by default (the replies above are the uncached API's), and
        # when ticked the request carries cache_prompt.
        box = driver.find_element(By.ID, "cache-prompt")
        last = driver.execute_script("return window.emovecLastRequest;")
        check(not box.is_selected() and "cache_prompt" not in last,
              "the cache box is ticked by default, or a request carried cache_prompt: %r" % last)
        box.click()

        # Error case: a bad max_tokens comes back as an error in #status.
        set_number(driver, "max-tokens", -5)
        send_message(driver, "This one should fail.")
        text = wait_status(driver, lambda t: t.startswith("error:"), "'error: ...' for max tokens -5",
                           timeout=30)
        print("error status: %r" % text)
        check(len(messages_of(driver, "assistant")) == 2,
              "the failed request left %d assistant messages (expected 2)"
              % len(messages_of(driver, "assistant")))
        check(server.alive(), "the server died")
        checks.append("max tokens -5 -> #status %r" % text)
        last = driver.execute_script("return window.emovecLastRequest;")
        check(last.get("cache_prompt") is True,
              "with the cache box ticked the request has no cache_prompt: true: %r" % last)
        checks.append("cache box: off by default; ticked, the request carries cache_prompt")

        with open(os.path.join(args.out, "browser_chat.html"), "w", encoding="utf-8") as f:
            f.write(driver.page_source)

        severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"
                  and "/v1/chat/completions" not in e.get("message", "")]
        check(not severe, "browser console errors: %s" % severe)
        checks.append("no unexpected browser console errors")
    finally:
        if driver is not None:
            try:
                html_path = os.path.join(args.out, "browser_chat.html")
                if not os.path.exists(html_path):
                    with open(html_path, "w", encoding="utf-8") as f:
                        f.write(driver.page_source)
            except WebDriverException:
                pass
            driver.quit()
        log = "".join(server.log)
        server.stop()
        args.server_log = log
    return checks


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--emovec", required=True, help="path to the emovec binary")
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--out", required=True, help="folder for the screenshot and page HTML")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    args.server_log = ""
    t0 = time.time()
    try:
        checks = run(args)
    except TestFailure as e:
        sys.stdout.flush()
        print("FAIL: %s" % e, file=sys.stderr)
        if args.server_log:
            print("--- server stderr (tail) ---\n%s" % args.server_log[-4000:], file=sys.stderr)
        return 1
    except Exception as e:  # launcher or browser trouble
        sys.stdout.flush()
        print("ERROR: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        if args.server_log:
            print("--- server stderr (tail) ---\n%s" % args.server_log[-4000:], file=sys.stderr)
        return 2
    print("PASS (%.1f s):" % (time.time() - t0))
    for c in checks:
        print("  - " + c)
    print("  screenshot: %s" % os.path.join(args.out, "browser_chat.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
