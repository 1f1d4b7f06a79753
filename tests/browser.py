"""The browser tests' helpers: headless Chromium (Debian's) driven by Selenium, and the form."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def browser_factory():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers = []

    def make():
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,1100"):
            options.add_argument(argument)
        driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        driver.quit()


def fill(driver, flight: dict) -> None:
    from selenium.webdriver.common.by import By

    for field, value in flight.items():
        element = driver.find_element(By.ID, field)
        element.clear()
        if field in ("FlightDate", "CRSDepTime"):  # date/time inputs type in the locale's order: set directly
            driver.execute_script("arguments[0].value = arguments[1]", element, value)
        else:
            element.send_keys(str(value))


def open_form(driver, base: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(base + "/")
    WebDriverWait(driver, 30).until(EC.element_to_be_clickable((By.ID, "submit")))


def wait_answer(driver, timeout: float = 60) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        lambda d: d.find_element("id", "result").get_attribute("data-state") == "answered")
