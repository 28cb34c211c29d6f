using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace Loyalty.Api.Tests.Support;

/// <summary>
/// Debian's chromium, headless, driven by Selenium.WebDriver through chromium-driver (both installed
/// by scripts/ensure-test-peers.sh), with a profile of its own that is deleted on dispose. Started on
/// first use. Screenshots go under the test output directory (screenshots/).
/// </summary>
public sealed class HeadlessChromium(int width = 1400, int height = 1000) : IDisposable
{
    private static readonly string Screenshots = Path.Combine(AppContext.BaseDirectory, "screenshots");
    private readonly string _profile = Directory.CreateTempSubdirectory("loyalty-chromium-").FullName;
    private ChromeDriver? _driver;

    /// <summary>The browser, started on first use.</summary>
    public ChromeDriver Driver
    {
        get
        {
            if (_driver is not null) return _driver;
            var options = new ChromeOptions { BinaryLocation = "/usr/bin/chromium" };
            options.AddArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", $"--window-size={width},{height}", "--lang=ru-RU", $"--user-data-dir={_profile}");
            options.AddUserProfilePreference("intl.accept_languages", "ru-RU,ru");
            var service = ChromeDriverService.CreateDefaultService("/usr/bin", "chromedriver");
            service.HideCommandPromptWindow = true;
            service.SuppressInitialDiagnosticInformation = true;
            _driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
            // A page may still be loading when a test looks for an element on a busy 2-core machine:
            // a lookup waits up to this long for the element to appear (an element that is there is found at once).
            _driver.Manage().Timeouts().ImplicitWait = TimeSpan.FromSeconds(5);
            return _driver;
        }
    }

    /// <summary>Saves what the browser shows as screenshots/<paramref name="name"/>.png and returns the PNG.</summary>
    public byte[] Screenshot(string name)
    {
        Directory.CreateDirectory(Screenshots);
        var shot = ((ITakesScreenshot)Driver).GetScreenshot();
        shot.SaveAsFile(Path.Combine(Screenshots, name + ".png"));
        return shot.AsByteArray;
    }

    public void Dispose()
    {
        _driver?.Quit();
        _driver?.Dispose();
        try { Directory.Delete(_profile, recursive: true); } catch (IOException) { }
    }
}
