using Wetware.Cli;

return await WwCli.RunAsync(args, Console.Out, Console.Error);
