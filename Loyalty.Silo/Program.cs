using Loyalty.Silo;
using Microsoft.Extensions.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.AddLoyaltySilo();
await builder.Build().RunAsync();
