using System.CommandLine;
using System.Text.RegularExpressions;

namespace Wetware.Cli;

/// <summary>Options that more than one command takes, each parsed and checked in one place.</summary>
internal static partial class CommonOptions
{
    /// <summary>The EVM JSON-RPC endpoint over HTTP both <c>ww run --stem</c> and <c>ww push --stem</c> default to (cli.md).</summary>
    public const string DefaultRpcUrl = "http://127.0.0.1:8545";

    /// <summary>An absolute URL of one of <paramref name="schemes"/>; <paramref name="defaultValue"/> null: no default (the command works one out).</summary>
    public static Option<string> Url(string name, string description, string? defaultValue, params string[] schemes)
    {
        var option = new Option<string>(name) { Description = description };
        if (defaultValue is not null)
        {
            option.DefaultValueFactory = _ => defaultValue;
        }
        option.Validators.Add(r =>
        {
            string? v = r.GetValueOrDefault<string>();
            if (v is null || !Uri.TryCreate(v, UriKind.Absolute, out Uri? uri) || !schemes.Contains(uri.Scheme))
            {
                r.AddError($"{name} must be a {string.Join(" or ", schemes)} URL, got '{v}'");
            }
        });
        return option;
    }

    /// <summary><c>--stem ADDRESS</c>: the Atom contract, 0x and 40 hex digits.</summary>
    public static Option<string?> Stem(string description)
    {
        var option = new Option<string?>("--stem") { Description = description };
        option.Validators.Add(r =>
        {
            string? v = r.GetValueOrDefault<string?>();
            if (v is not null && !AddressPattern().IsMatch(v))
            {
                r.AddError($"--stem must be 0x followed by 40 hex digits, got '{v}'");
            }
        });
        return option;
    }

    [GeneratedRegex("^0x[0-9a-fA-F]{40}$")]
    private static partial Regex AddressPattern();
}
