using System.Text;
using System.Text.Json.Nodes;
using HybridSharp.Jinja;
using HybridSharp.Tests.Reference;
using Xunit;

namespace HybridSharp.Tests.Jinja;

/// <summary>
/// One small template per Jinja feature chat templates use, rendered by HybridSharp and by @huggingface/jinja with the
/// same variables: identical text (or an error on both sides).
/// </summary>
public class JinjaFeatureParityTests
{
    private static readonly string[] Templates =
    [
        "{% if x > 1 %}big{% elif x == 1 %}one{% else %}small{% endif %}",
        "{% for m in messages %}{{ loop.index }}/{{ loop.length }}:{{ m.role }}{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %}|{% endfor %}",
        "{% for m in messages if m.role != 'system' %}{{ loop.index0 }}{{ m.content[:3] }}{{ loop.revindex }}{% else %}none{% endfor %}",
        "{% for m in [] %}x{% else %}empty{% endfor %}",
        "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
        "{% set ns = namespace(found=false, n=0) %}{% for m in messages %}{% if m.role == 'user' %}{% set ns.found = true %}{% set ns.n = ns.n + 1 %}{% endif %}{% endfor %}{{ ns.found | tojson }} {{ ns.n }}",
        "{% set x = 1 %}{% for i in [1,2] %}{% set x = i %}{% endfor %}{{ x }}",
        "{% set block %}inner {{ x }}{% endset %}[{{ block }}]",
        "{% macro greet(name, punct='!') %}Hello {{ name }}{{ punct }}{% endmacro %}{{ greet('a') }} {{ greet('b', '?') }} {{ greet(name='c') }}",
        "{% filter upper %}shout {{ x }}{% endfilter %}",
        "{{ 'yes' if x else 'no' }} {{ 'a' ~ x ~ 'b' }} {{ x + 2 * 3 }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** 3 }} {{ 7 / 2 }}",
        "{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ s.upper() }}|{{ s.lower() }}|{{ s.title() }}|{{ s.replace('l', 'L') }}",
        "{{ s.split(' ') | tojson }} {{ s.startswith('  he') | tojson }} {{ s.endswith(('x', 'd  ')) | tojson }} {{ s.strip().split() | length }}",
        "{{ d.get('a') }} {{ d.get('zz', 'dflt') }} {{ d.keys() | list | tojson }} {{ d.values() | list | tojson }}",
        "{{ messages | length }} {{ messages | first | tojson }} {{ (messages | last).role }} {{ messages | map(attribute='role') | join(',') }}",
        "{{ messages | selectattr('role', 'equalto', 'user') | list | length }} {{ messages | rejectattr('role', 'equalto', 'user') | map(attribute='role') | join(',') }}",
        "{{ [3, 1, 2] | sort }} {{ [3, 1, 2] | reverse | list }} {{ [1, 1, 2] | unique | list }} {{ ['b', 'a'] | sort | join('-') }}",
        "{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ messages | tojson }}",
        "{% for k, v in d | dictsort %}{{ k }}{{ v }}{% endfor %} {% for k, v in d | items %}{{ k }}{{ v }}{% endfor %}",
        "{{ '  x  ' | trim }}|{{ 'abc' | upper }}|{{ 'ABC' | lower }}|{{ 'hello world' | capitalize }}|{{ 'x' | string }}",
        "{{ '12' | int + 1 }} {{ '1.5' | float }} {{ 3 | float }} {{ -3 | abs }} {{ 'xy' | replace('x', 'z') }}",
        "{{ [undefined_var is defined, undefined_var is undefined, none is none, 'a' is string, 1 is number, 1 is integer, d is mapping, messages is sequence, messages is iterable, true is boolean] | tojson }}",
        "{{ [3 is odd, 4 is even, x is true, x is false, 'a' in 'cat', 'z' not in 'cat', 'a' in d, 1 in [1, 2]] | tojson }}",
        "[{{ undefined_var }}] {{ undefined_var | default('fallback') }} {{ '' | default('e', true) }}",
        "{{ messages[0]['role'] }} {{ messages[-1].content }} {{ messages[1:] | length }} {{ 'abcdef'[::-1] }} {{ 'abcdef'[1:4] }}",
        "{{ text | indent(2) }}|{{ text | indent(2, true) }}|{{ text | indent(4, first=true, blank=true) }}",
        "a\n  {% if true %}\n  b\n  {% endif %}\nc\n",
        "a  {%- if true -%}  b  {%- endif -%}  c {# note #}\n d {{- ' e ' -}} f",
        "  {#- comment -#}  x\n{% for i in range(3) %}{{ i }}{% if not loop.last %},{% endif %}{% endfor %}",
        "{% for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}",
        "{{ raise_exception('bad conversation') }}",
        "{% if messages[0].role != 'system' %}{{ raise_exception('needs a system message') }}{% endif %}ok",
        "{{ {'a': 1, 'b': [1, 2]} | tojson }} {{ [1, 'two', none, true, 2.5] | tojson }}",
        "{{ \"quote's\" }} {{ 'tab\\there' }} {{ 'nl\\n' | tojson }} {{ 'ü😀' | tojson }}",
        "{{ x.y }}",
        "{% for i in 5 %}{% endfor %}",
        "{{ messages | selectattr('content') | list | length }}",
        "{% set a, b = 1, 2 %}{{ a }}{{ b }} {% set t = (1, 2) %}{{ t[0] }}",
        "{{ d['a'] }}{{ d.a }}{{ (d['missing'] is defined) | tojson }}",
        "{% if x %}{% if d %}both{% endif %}{% endif %}",
        "{{ (1, 2) | length }}",
        "{%- for message in messages -%}\n    {{- '<|' + message.role + '|>\\n' }}\n    {{- message.content | trim }}\n{%- endfor -%}",
    ];

    [Fact]
    public void FeaturesRenderLikeTheReference()
    {
        var vars = (JsonObject)JsonNode.Parse("""
            {"x": 2, "s": "  hello world  ", "text": "line1\n\nline3",
             "d": {"b": 2, "a": 1, "c": "three"},
             "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hello"}, {"role": "assistant", "content": ""}, {"role": "user", "content": "again"}]}
            """)!;
        var reference = new List<JsonNode?>();
        foreach (var t in Templates)
            reference.Add(NodeReference.Run("render.mjs", new JsonObject { ["template"] = t, ["contexts"] = new JsonArray(vars.DeepClone()) }).AsArray()[0]);
        var failures = new StringBuilder();
        for (int i = 0; i < Templates.Length; i++)
        {
            string? ours;
            try
            {
                ours = JinjaTemplate.Parse(Templates[i]).Render(vars.ToDictionary(kv => kv.Key, kv => (object?)kv.Value?.DeepClone()));
            }
            catch (TemplateException ex)
            {
                ours = null;
                if (reference[i]!["error"] is null) failures.AppendLine($"#{i} {Templates[i]}\n  ours ERROR {ex.Message}\n  ref  {reference[i]!["text"]}");
                continue;
            }
            var refText = reference[i]!["text"]?.GetValue<string>();
            if (ours != refText) failures.AppendLine($"#{i} {Templates[i]}\n  ours {Json(ours)}\n  ref  {(refText is null ? "ERROR " + reference[i]!["error"] : Json(refText))}");
        }
        Assert.True(failures.Length == 0, failures.ToString());
    }

    /// <summary>
    /// Where @huggingface/jinja departs from Python's Jinja (which transformers runs), HybridSharp follows Python:
    /// <c>True</c>/<c>None</c> and Python reprs in output, and filters and operators the JavaScript port lacks.
    /// </summary>
    [Theory]
    [InlineData("{{ true }} {{ false }} {{ none }} {{ 1 == 1 }}", "True False None True")]
    [InlineData("{{ ['a', 1, none, 2.5] }} {{ {'k': 'v'} }}", "['a', 1, None, 2.5] {'k': 'v'}")]
    [InlineData("{{ 'a b  c' | wordcount }} {{ undefined_var | length }}", "3 0")]
    [InlineData("{{ [0, 1, '', 'a'] | select | list }} {{ [1, 2, 3, 4] | reject('odd') | list }}", "[1, 'a'] [2, 4]")]
    [InlineData("{{ ['a', 'b'] | map('upper') | join }} {{ [[1, 2], [3]] | map('length') | list }}", "AB [2, 1]")]
    [InlineData("{{ 'Hello %s, you are %d' % ('Bob', 30) }}", "Hello Bob, you are 30")]
    [InlineData("{{ 4 / 2 }} {{ 1e3 }} {{ 0.1 + 0.2 }}", "2.0 1000.0 0.30000000000000004")]
    public void FollowsPythonJinjaWhereTheReferenceDeparts(string template, string expected) =>
        Assert.Equal(expected, JinjaTemplate.Parse(template).Render(new Dictionary<string, object?>()));

    [Fact]
    public void ErrorsNameTheTemplateLine()
    {
        var ex = Assert.Throws<TemplateException>(() => JinjaTemplate.Parse("line one\n{% if x %}\nno end"));
        Assert.Contains("line 2", ex.Message);
        var raised = Assert.Throws<TemplateException>(() => JinjaTemplate.Parse("a\nb\n{{ raise_exception('nope') }}").Render(new Dictionary<string, object?>()));
        Assert.True(raised.RaisedByTemplate);
        Assert.Equal("template line 3: nope", raised.Message);
        Assert.Contains("line 1", Assert.Throws<TemplateException>(() => JinjaTemplate.Parse("{{ x.y }}").Render(new Dictionary<string, object?>())).Message);
    }

    [Fact]
    public void GenerationBlocksReportTheirSpans()
    {
        var (text, spans) = JinjaTemplate.Parse("U:{{ q }}\nA:{% generation %}{{ a }}<end>{% endgeneration %}\n")
            .RenderWithSpans(new Dictionary<string, object?> { ["q"] = "hi", ["a"] = "yo" });
        Assert.Equal("U:hi\nA:yo<end>", text); // one trailing newline is dropped, as Jinja does by default
        Assert.Equal("yo<end>", text[spans[0].Start..spans[0].End]);
    }

    private static string Json(string? s) => System.Text.Json.JsonSerializer.Serialize(s);
}
