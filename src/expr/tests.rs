use super::*;

/// The canonical text of a parse: fully parenthesised, names quoted.
fn canon(s: &str) -> String {
    parse(s).unwrap_or_else(|e| panic!("{s}: {e}")).to_string()
}

fn err(s: &str) -> String {
    parse(s).expect_err(s).to_string()
}

#[test]
fn precedence_is_sql_s() {
    assert_eq!(canon("a = 1 OR b = 2 AND c = 3"), r#"(("a" = 1) OR (("b" = 2) AND ("c" = 3)))"#);
    assert_eq!(canon("(a = 1 OR b = 2) AND c"), r#"((("a" = 1) OR ("b" = 2)) AND "c")"#);
    assert_eq!(canon("NOT a = 1 AND b"), r#"((NOT ("a" = 1)) AND "b")"#);
    assert_eq!(canon("NOT NOT a"), r#"(NOT (NOT "a"))"#);
    assert_eq!(canon("a + b * 2 > -c % 3"), r#"(("a" + ("b" * 2)) > ((-"c") % 3))"#);
    assert_eq!(canon("a - b - c"), r#"(("a" - "b") - "c")"#);
    assert_eq!(canon("x / 2 <= y"), r#"(("x" / 2) <= "y")"#);
    for (op, sym) in [("=", "="), ("==", "="), ("!=", "!="), ("<>", "!="), (">=", ">=")] {
        assert_eq!(canon(&format!("a {op} 1")), format!("(\"a\" {sym} 1)"));
    }
}

#[test]
fn predicates() {
    assert_eq!(canon("s IN ('a', 'b''c')"), r#"("s" IN ('a', 'b''c'))"#);
    assert_eq!(canon("n not in (1, -2, 3.5)"), r#"("n" NOT IN (1, -2, 3.5))"#);
    assert_eq!(canon("n BETWEEN 1 AND 2 + 3"), r#"("n" BETWEEN 1 AND (2 + 3))"#);
    assert_eq!(canon("n NOT BETWEEN -1 AND 1 OR m"), r#"(("n" NOT BETWEEN (-1) AND 1) OR "m")"#);
    assert_eq!(canon("x IS NULL"), r#"("x" IS NULL)"#);
    assert_eq!(canon("x is not null"), r#"("x" IS NOT NULL)"#);
    assert_eq!(canon("url LIKE 'https://%'"), r#"("url" LIKE 'https://%')"#);
    assert_eq!(canon("url NOT LIKE '%.png'"), r#"("url" NOT LIKE '%.png')"#);
    assert_eq!(canon("ok = TRUE OR ok IS NULL"), r#"(("ok" = TRUE) OR ("ok" IS NULL))"#);
    assert_eq!(canon("x != NaN AND y < inf"), r#"(("x" != NAN) AND ("y" < INF))"#);
}

#[test]
fn names_quoted_dotted_unicode_and_keywords() {
    assert_eq!(canon(r#""my col" = 1"#), r#"("my col" = 1)"#);
    assert_eq!(canon("`a.1` > 0 AND a.1 < 2"), r#"(("a.1" > 0) AND ("a.1" < 2))"#);
    assert_eq!(canon(r#""say ""hi""" = 'x'"#), r#"("say ""hi""" = 'x')"#);
    assert_eq!(canon(r#""and" = 1"#), r#"("and" = 1)"#);
    assert_eq!(canon("größe > 2"), r#"("größe" > 2)"#);
    assert_eq!(canon("_x = 1"), r#"("_x" = 1)"#);
    // Type words are names unless a quoted value follows.
    assert_eq!(canon("date = 1 AND interval > 2"), r#"(("date" = 1) AND ("interval" > 2))"#);
    let e = parse(r#"a + "b c" * `d` = e"#).unwrap();
    assert_eq!(e.columns(), ["a", "b c", "d", "e"]);
    assert_eq!(parse("a = a OR a > 1").unwrap().columns(), ["a"]);
}

#[test]
fn numbers_as_numpy_reads_them() {
    let lit = |s: &str| match parse(s).unwrap() {
        Expr::Literal { value, .. } => value,
        other => panic!("{s}: {other:?}"),
    };
    assert_eq!(lit("42"), Literal::Int(42));
    assert_eq!(lit("9223372036854775807"), Literal::Int(i64::MAX));
    assert_eq!(lit("9223372036854775808"), Literal::UInt(1 << 63));
    assert_eq!(lit("18446744073709551615"), Literal::UInt(u64::MAX));
    assert_eq!(lit("18446744073709551616"), Literal::Float(18_446_744_073_709_551_616.0));
    assert_eq!(lit("1e3"), Literal::Float(1000.0));
    assert_eq!(lit("2.5E-1"), Literal::Float(0.25));
    assert_eq!(lit(".5"), Literal::Float(0.5));
    assert_eq!(lit("3."), Literal::Float(3.0));
    assert_eq!(lit("'it''s'"), Literal::Str("it's".into()));
    // The most negative integer, in a list where a negative value is folded.
    let Expr::In { list, .. } = parse("x IN (-9223372036854775808, -0.0)").unwrap() else {
        panic!()
    };
    assert_eq!(list[0].0, Literal::Int(i64::MIN));
    assert_eq!(list[1].0, Literal::Float(-0.0));
}

#[test]
fn times_dates_and_intervals() {
    let lit = |s: &str| match parse(s).unwrap() {
        Expr::Literal { value, .. } => value,
        other => panic!("{s}: {other:?}"),
    };
    let h = 3_600_000_000_000_i64;
    // 2026-01-01T00:00Z is 20454 days after 1970.
    let day = 20_454 * 24 * h;
    assert_eq!(lit("timestamp '2026-01-01 10:00'"), Literal::Time(day + 10 * h));
    assert_eq!(lit("TIMESTAMP '2026-01-01T10:00:00Z'"), Literal::Time(day + 10 * h));
    assert_eq!(lit("timestamp '2026-01-01T12:00+02:00'"), Literal::Time(day + 10 * h));
    assert_eq!(lit("timestamp '2026-01-01'"), Literal::Time(day));
    assert_eq!(lit("date '2026-01-01'"), Literal::Time(day));
    assert_eq!(lit("timestamp '1969-12-31 23:59:59.5'"), Literal::Time(-500_000_000));
    assert_eq!(lit("interval '1h30min'"), Literal::Interval(90 * 60_000_000_000));
    assert_eq!(lit("90min"), Literal::Interval(90 * 60_000_000_000));
    assert_eq!(lit("2d"), Literal::Interval(48 * h));
    assert_eq!(
        canon("ts >= timestamp '2026-01-01 10:00' - 2h"),
        r#"("ts" >= (TIMESTAMP '2026-01-01T10:00:00Z' - INTERVAL '7200000000000ns'))"#
    );
    assert!(err("ts > timestamp 'tuesday'").contains("TIMESTAMP 'tuesday': not a date and time"));
    assert!(err("ts > date '2026-02-30'").contains("DATE '2026-02-30': not a date"));
    assert!(err("ts > timestamp '2300-01-01'").contains("1677 to 2262"));
    assert!(err("d > interval '3 weeks'").contains("unknown unit"));
    assert!(err("d > 1.5h").contains("1.5h: an interval is whole units"));
    assert!(err("d > 3weeks").contains("unknown unit"));
}

#[test]
fn errors_quote_the_expression_and_mark_the_spot() {
    let e = err("status >= AND x");
    assert_eq!(
        e,
        "bad filter: expected a column, a value or '(', not the keyword AND (a column of that name \
         is written \"AND\") (at character 11)\n  status >= AND x\n            ^"
    );
    let e = err("région = 'x");
    assert!(e.contains("this ' is never closed (at character 10)"), "{e}");
    assert!(e.ends_with("\n           ^"), "{e:?}");
    assert!(
        err("a = 1 b").contains("expected AND, OR or the end of the expression (at character 7)")
    );
    assert!(err("a < b < c").contains("comparisons do not chain"));
    assert!(err("a NOT 1").contains("expected IN, BETWEEN or LIKE after NOT"));
    assert!(err("a IS 1").contains("expected NULL after IS [NOT]"));
    assert!(err("a IN 1").contains("expected '(' and a list of values after IN"));
    assert!(err("a IN (1, b)").contains("IN lists hold values, not columns"));
    assert!(err("a IN (1 2)").contains("expected ',' or ')' in the IN list"));
    assert!(err("a BETWEEN 1 OR 2").contains("expected AND between the two ends"));
    assert!(err("a LIKE b").contains("expected a quoted pattern after LIKE"));
    assert!(err("(a = 1").contains("expected ')'"));
    assert!(err("a = ").contains("here, at the end"));
    assert!(err("").contains("here, at the end"));
    assert!(err("a = 1 AND").contains("here, at the end"));
    assert!(err("a ; drop").contains("unexpected character ';'"));
    assert!(err("\"\" = 1").contains("an empty column name"));
    assert!(err("x = NULL AND and = 1").contains("not the keyword AND"));
    // Control characters are not echoed raw.
    assert!(err("a\u{7} = ").contains("  a  = "));
}

#[test]
fn hostile_expressions_get_errors_or_bounded_work() {
    let deep = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(err(&deep).contains(&format!("nested more than {MAX_DEPTH} deep")));
    let nots = format!("{}a", "NOT ".repeat(10_000));
    assert!(err(&nots).contains("nested more than"));
    let minus = format!("{}a", "-".repeat(10_000));
    assert!(err(&minus).contains("nested more than"));
    // Long flat chains are not nesting: they parse, in a loop.
    let chain = vec!["a = 1"; 10_000].join(" OR ");
    assert!(parse(&chain).is_ok());
    let list = (0..10_000).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
    let Expr::In { list, .. } = parse(&format!("x IN ({list})")).unwrap() else { panic!() };
    assert_eq!(list.len(), 10_000);
    let long = format!("x = '{}'", "y".repeat(MAX_LEN));
    assert!(err(&long).contains("bytes long"));
    assert!(err("x = 99999999999999999999999999999999999999d").contains("number too large"));
}

#[test]
fn printing_and_parsing_again_gives_the_same_tree() {
    for s in [
        "a = 1 OR NOT (b IN ('x', 'y') AND c BETWEEN -1 AND 2.5)",
        "ts >= timestamp '2026-03-01 00:00' AND ts < timestamp '2026-03-02' - 1h30min",
        r#""we""ird" LIKE 'a''%' OR x IS NOT NULL OR y NOT LIKE '_'"#,
        "-(-a) * (b + 1) % 7 != -9223372036854775808",
        "x = NaN OR x = -inf OR x = 1e300 OR u = 18446744073709551615",
    ] {
        let once = canon(s);
        assert_eq!(canon(&once), once, "{s}");
    }
}

#[test]
fn the_deepest_allowed_nesting_parses_on_a_small_stack() {
    // Every kind of nesting at once, as deep as allowed, on a 512 KiB stack (a quarter of a
    // Rust thread's default): parsing, printing and dropping the tree.
    let per = MAX_DEPTH / 3;
    let s = format!("{}{}a{} = 1", "NOT ".repeat(per), "(-".repeat(per), ")".repeat(per));
    let t = std::thread::Builder::new()
        .stack_size(512 << 10)
        .spawn(move || parse(&s).map(|e| e.to_string().len()))
        .unwrap();
    assert!(t.join().unwrap().unwrap() > 0);
}
