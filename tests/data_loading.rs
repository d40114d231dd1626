//! Reading cohorts from CSV: type inference, overrides, missing values, errors, round trips.

use proptest::prelude::*;
use stepwedge::core::error::Error;
use stepwedge::data::{Cohort, Column, ColumnType, LoadOptions, MISSING_CODE};
use stepwedge::models::glmm::Glmm;

fn load(text: &str) -> Cohort {
    Cohort::from_csv_str(text, &LoadOptions::default()).unwrap()
}

fn load_err(text: &str, opts: &LoadOptions) -> Error {
    Cohort::from_csv_str(text, opts).unwrap_err()
}

/// Asserts that `e` is a CSV error at `line` in `column` whose message contains `needle`.
fn assert_csv_error(e: &Error, line: u64, column: &str, needle: &str) {
    match e {
        Error::Csv {
            file,
            line: l,
            column: c,
            message,
        } => {
            assert_eq!(file, "<memory>");
            assert_eq!((*l, c.as_str()), (line, column), "{e}");
            assert!(message.contains(needle), "{e}");
        }
        other => panic!("expected a CSV error, got {other:?}"),
    }
}

#[test]
fn types_are_inferred() {
    let c = load("id,age,treated,sex,cost\n1,84.5,0,F,1e4\n2,91,1,M,-2.5\n3,70.25,1,F,.5\n");
    assert_eq!(c.n_rows(), 3);
    assert_eq!(c.names(), ["id", "age", "treated", "sex", "cost"]);
    assert_eq!(c.column_type("age").unwrap(), ColumnType::Numeric);
    assert_eq!(c.column_type("treated").unwrap(), ColumnType::Binary);
    assert_eq!(c.column_type("sex").unwrap(), ColumnType::Categorical);
    assert_eq!(c.numeric("age").unwrap(), [84.5, 91.0, 70.25]);
    assert_eq!(c.numeric("cost").unwrap(), [1e4, -2.5, 0.5]);
    assert_eq!(c.levels("sex").unwrap(), ["F", "M"]);
    assert_eq!(c.codes("sex").unwrap(), [0, 1, 0]);
}

#[test]
fn levels_are_sorted_so_level_zero_is_rs_reference() {
    let c = load("residence\nown_home\nnursing_home\ntemporary\nrehab_24h\nown_home\n");
    assert_eq!(
        c.levels("residence").unwrap(),
        ["nursing_home", "own_home", "rehab_24h", "temporary"]
    );
    assert_eq!(c.codes("residence").unwrap(), [1, 0, 3, 2, 1]);
}

#[test]
fn numeric_looking_labels_keep_their_text() {
    let c = load("code,x\n01,1\n2,2\nx,3\ny,5\n1.50,4\nz,6\n");
    assert_eq!(
        c.levels("code").unwrap(),
        ["01", "1.50", "2", "x", "y", "z"]
    );
    let col = c.column("code").unwrap();
    assert_eq!(col.label(0), Some("01"));
    assert_eq!(col.label(4), Some("1.50"));
}

#[test]
fn a_column_that_turns_to_text_in_its_last_rows_is_categorical() {
    let mut text = String::from("x,y\n");
    for i in 0..500 {
        text.push_str(&format!("{i}.0,{i}\n"));
    }
    text.push_str("NA,1\n");
    for i in 0..20 {
        text.push_str(&format!("unknown{i},2\n"));
    }
    let c = load(&text);
    assert_eq!(c.column_type("x").unwrap(), ColumnType::Categorical);
    assert_eq!(c.column_type("y").unwrap(), ColumnType::Numeric);
    let x = c.column("x").unwrap();
    assert_eq!(x.levels().unwrap().len(), 520);
    assert_eq!(x.label(0), Some("0.0"));
    assert_eq!(x.label(499), Some("499.0"));
    assert!(x.is_missing(500));
    assert_eq!(x.label(501), Some("unknown0"));
    let levels = x.levels().unwrap();
    assert!(levels.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn a_few_text_cells_among_numbers_are_an_error_naming_them() {
    let mut text = String::from("age,y\n");
    for i in 0..300 {
        text.push_str(&format!("{}.5,{}\n", 70 + i % 25, i % 2));
    }
    text.insert_str(text.find("\n72.5").unwrap() + 1, "N/A,1\n");
    text.push_str("--1,0\n");
    let e = load_err(&text, &LoadOptions::default());
    assert_eq!(
        e.to_string(),
        "<memory>, column 'age': 2 of 302 cells are not numbers, though the others are: \
         line 4 'N/A', line 303 '--1'; if they mark missing values, add them to the missing \
         values (--na VALUE in the examples, LoadOptions::missing_values in the library; by \
         default NA, NaN and empty cells are missing); if the column is text, set its type to \
         categorical (--categorical COLUMN in the examples)"
    );
    // Listed as missing values, they are; forced to text, the column is a factor.
    let opts = LoadOptions::new().missing_values(["NA", "N/A", "--1"]);
    let c = Cohort::from_csv_str(&text, &opts).unwrap();
    assert_eq!(
        c.numeric("age")
            .unwrap()
            .iter()
            .filter(|x| x.is_nan())
            .count(),
        2
    );
    let opts = LoadOptions::new().column_type("age", ColumnType::Categorical);
    let c = Cohort::from_csv_str(&text, &opts).unwrap();
    assert_eq!(c.levels("age").unwrap().len(), 27);
    // Eleven text cells among 300 numbers are more than a few: the column is text.
    let mut many = text.clone();
    for k in 0..9 {
        many.push_str(&format!("x{k},1\n"));
    }
    assert_eq!(
        load(&many).column_type("age").unwrap(),
        ColumnType::Categorical
    );
}

#[test]
fn missing_values_default_and_custom() {
    let c = load("x,g\n1,a\nNA,NA\n,\nNaN,b\n  NA ,  \n");
    let x = c.numeric("x").unwrap();
    assert_eq!(x[0], 1.0);
    assert!(x[1..].iter().all(|v| v.is_nan()));
    assert_eq!(
        c.codes("g").unwrap(),
        [0, MISSING_CODE, MISSING_CODE, 1, MISSING_CODE]
    );

    let opts = LoadOptions::new().missing_values(["-", "999"]);
    let c = Cohort::from_csv_str("x,g\n1,a\n999,-\n-,NA\n", &opts).unwrap();
    let x = c.numeric("x").unwrap();
    assert_eq!(x[0], 1.0);
    assert!(x[1].is_nan() && x[2].is_nan());
    // "NA" is no longer missing: it is a label.
    assert_eq!(c.levels("g").unwrap(), ["NA", "a"]);
    assert_eq!(c.codes("g").unwrap(), [1, MISSING_CODE, 0]);
}

#[test]
fn all_missing_column_is_numeric() {
    let c = load("x,y\nNA,1\n,2\n");
    assert_eq!(c.column_type("x").unwrap(), ColumnType::Binary);
    assert!(c.numeric("x").unwrap().iter().all(|v| v.is_nan()));
}

#[test]
fn whitespace_is_trimmed_and_quotes_removed() {
    let c = load(" a , b \n 1 ,\" x, y \"\n2.5\t,z\n");
    assert_eq!(c.names(), ["a", "b"]);
    assert_eq!(c.numeric("a").unwrap(), [1.0, 2.5]);
    assert_eq!(c.levels("b").unwrap(), ["x, y", "z"]);
}

#[test]
fn overrides_force_types() {
    let text = "municipality,cost,flag\n0101,100,1\n147,200,0\n0101,NA,NA\n";
    let opts = LoadOptions::new()
        .column_type("municipality", ColumnType::Categorical)
        .column_type("cost", ColumnType::Numeric)
        .column_type("flag", ColumnType::Binary);
    let c = Cohort::from_csv_str(text, &opts).unwrap();
    assert_eq!(c.levels("municipality").unwrap(), ["0101", "147"]);
    assert_eq!(c.codes("municipality").unwrap(), [0, 1, 0]);
    assert_eq!(c.column_type("flag").unwrap(), ColumnType::Binary);
    assert!(c.numeric("cost").unwrap()[2].is_nan());
}

#[test]
fn forced_numeric_rejects_text_naming_line_column_and_text() {
    let opts = LoadOptions::new().column_type("cost", ColumnType::Numeric);
    let e = load_err("id,cost\n1,100\n2,12 000\n", &opts);
    assert_csv_error(&e, 3, "cost", "'12 000' is not a number");
    assert_eq!(
        e.to_string(),
        "<memory>, line 3, column 'cost': '12 000' is not a number (the column is set to Numeric)"
    );
}

#[test]
fn forced_binary_rejects_other_numbers() {
    let opts = LoadOptions::new().column_type("death30", ColumnType::Binary);
    let e = load_err("death30\n0\n1\n2\n", &opts);
    assert_csv_error(&e, 4, "death30", "'2' is not 0 or 1");
}

#[test]
fn unknown_override_column_suggests_the_closest_name() {
    let opts = LoadOptions::new().column_type("muncipality", ColumnType::Categorical);
    let e = load_err("municipality,x\n1,2\n", &opts);
    assert_eq!(
        e.to_string(),
        "unknown column 'muncipality'; did you mean 'municipality'?"
    );
}

#[test]
fn infinity_is_an_error_naming_line_and_column() {
    let e = load_err("x,cost\n1,5\n2,inf\n3,-inf\n", &LoadOptions::default());
    assert_csv_error(&e, 3, "cost", "'inf' is not a finite number");
    let e = load_err("x,cost\n1,5\n2,-Infinity\n", &LoadOptions::default());
    assert_csv_error(&e, 3, "cost", "'-Infinity' is not a finite number");
    // Overflow is infinite too.
    let e = load_err("cost\n1e400\n", &LoadOptions::default());
    assert_csv_error(&e, 2, "cost", "'1e400' is not a finite number");
    // In a forced numeric column the error comes at once.
    let opts = LoadOptions::new().column_type("cost", ColumnType::Numeric);
    let e = load_err("cost\ninf\nabc\n", &opts);
    assert_csv_error(&e, 2, "cost", "not a finite number");
}

#[test]
fn nan_not_listed_as_missing_is_an_error() {
    let opts = LoadOptions::new().missing_values(["NA"]);
    let e = load_err("x\n1\nNaN\n", &opts);
    assert_csv_error(&e, 3, "x", "add it to LoadOptions::missing_values");
    // Lower-case "nan" is not in the default list either.
    let e = load_err("x\n1\nnan\n", &LoadOptions::default());
    assert_csv_error(&e, 3, "x", "'nan' is not a number");
}

#[test]
fn inf_in_a_text_column_is_a_label() {
    let c = load("g\ninf\n1\nabc\n");
    assert_eq!(c.levels("g").unwrap(), ["1", "abc", "inf"]);
}

#[test]
fn header_errors() {
    let opts = LoadOptions::default();
    assert_csv_error(&load_err("", &opts), 1, "#1", "the file is empty");
    assert_csv_error(
        &load_err("a,,c\n1,2,3\n", &opts),
        1,
        "#2",
        "column name is empty",
    );
    assert_csv_error(
        &load_err("a,b, a\n1,2,3\n", &opts),
        1,
        "#3",
        "column name 'a' appears twice (columns 1 and 3)",
    );
}

#[test]
fn records_of_the_wrong_length_name_their_line() {
    let opts = LoadOptions::default();
    let e = load_err("a,b,c\n1,2,3\n4,5\n", &opts);
    assert_csv_error(&e, 3, "c", "the record has 2 field(s), the header has 3");
    let e = load_err("a,b\n1,2\n3,4\n5,6,7\n", &opts);
    assert_csv_error(&e, 4, "#3", "the record has 3 field(s), the header has 2");
}

#[test]
fn line_numbers_count_newlines_inside_quotes() {
    let e = load_err(
        "note,x\n\"two\nlines\",1\nok,zz\n",
        &LoadOptions::new().column_type("x", ColumnType::Numeric),
    );
    assert_csv_error(&e, 4, "x", "'zz' is not a number");
}

#[test]
fn invalid_utf8_label_is_an_error() {
    let bytes: &[u8] = b"g\nok\n\xff\xfe\n";
    let e = Cohort::from_csv_reader(bytes, "latin1.csv", &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&e, Error::Csv { file, line: 3, column, .. } if file == "latin1.csv" && column == "g"),
        "{e}"
    );
    assert!(e.to_string().contains("not valid UTF-8"), "{e}");
}

#[test]
fn byte_order_mark_and_semicolons() {
    let text = "\u{feff}cluster;age\nC01;84,5\nC02;90\n";
    let opts = LoadOptions::new().delimiter(b';');
    let c = Cohort::from_csv_str(text, &opts).unwrap();
    assert_eq!(c.names(), ["cluster", "age"]);
    // With a ';' delimiter decimal commas are read, unless refused.
    assert_eq!(c.numeric("age").unwrap(), [84.5, 90.0]);
    let e = load_err(text, &opts.clone().decimal_comma(false));
    assert_csv_error(&e, 2, "age", "numbers with decimal commas");
    let e = load_err("a\n1\n", &LoadOptions::new().delimiter(b'"'));
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e}");
}

#[test]
fn header_only_gives_an_empty_cohort() {
    let c = load("a,b\n");
    assert_eq!(c.n_rows(), 0);
    assert_eq!(c.n_cols(), 2);
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let e = Cohort::from_csv_path("/no/such/dir/cohort.csv", &LoadOptions::default()).unwrap_err();
    assert!(matches!(&e, Error::Io { file, .. } if file == "/no/such/dir/cohort.csv"));
    assert!(
        e.to_string().starts_with("/no/such/dir/cohort.csv: "),
        "{e}"
    );
}

#[test]
fn file_errors_name_the_path() {
    let path = std::env::temp_dir().join(format!("stepwedge-bad-{}.csv", std::process::id()));
    std::fs::write(&path, "a,b\n1,2\n3\n").unwrap();
    let e = Cohort::from_csv_path(&path, &LoadOptions::default()).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        e.to_string(),
        format!(
            "{}, line 3, column 'b': the record has 1 field(s), the header has 2",
            path.display()
        )
    );
}

fn sample_cohort() -> Cohort {
    Cohort::from_columns(vec![
        ("id".into(), Column::Numeric(vec![1.0, 2.0, 3.0, 4.0])),
        (
            "cost".into(),
            Column::Numeric(vec![60000.5, f64::NAN, 1e-7, -0.0]),
        ),
        (
            "municipality".into(),
            Column::from_labels([Some("0101"), Some("147"), None, Some("0101")]).unwrap(),
        ),
        (
            "note".into(),
            Column::from_labels([Some("a, \"quoted\""), Some("two\nlines"), Some("ø"), None])
                .unwrap(),
        ),
    ])
    .unwrap()
}

fn write_to_string(c: &Cohort) -> String {
    let mut out = Vec::new();
    c.write_csv_to(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn written_csv_is_short_and_reads_back_identical() {
    let c = sample_cohort();
    let text = write_to_string(&c);
    assert_eq!(
        text,
        "id,cost,municipality,note\n1,60000.5,0101,\"a, \"\"quoted\"\"\"\n2,NA,147,\"two\nlines\"\n\
         3,1e-7,NA,ø\n4,-0,0101,NA\n"
    );
    let back = Cohort::from_csv_str(&text, &LoadOptions::matching(&c)).unwrap();
    assert!(back.identical(&c), "{back:?}");
    // With default options the all-numeric municipality codes come back numeric.
    let inferred = load(&text);
    assert_eq!(
        inferred.column_type("municipality").unwrap(),
        ColumnType::Numeric
    );
}

#[test]
fn write_csv_to_a_file_round_trips() {
    let c = sample_cohort();
    let path = std::env::temp_dir().join(format!("stepwedge-rt-{}.csv", std::process::id()));
    c.write_csv(&path).unwrap();
    let back = Cohort::from_csv_path(&path, &LoadOptions::matching(&c));
    std::fs::remove_file(&path).unwrap();
    assert!(back.unwrap().identical(&c));
}

#[test]
fn unwritable_cohorts_are_refused() {
    let with = |col: Column| {
        Cohort::from_columns(vec![("x".into(), col)])
            .unwrap()
            .write_csv_to(Vec::new())
            .unwrap_err()
            .to_string()
    };
    assert!(with(Column::Numeric(vec![1.0, f64::INFINITY])).contains("row 2"));
    assert!(with(Column::from_labels([Some("NA")]).unwrap()).contains("level 'NA'"));
    assert!(with(Column::from_labels([Some(" a")]).unwrap()).contains("level ' a'"));
    assert!(with(Column::from_labels([Some("")]).unwrap()).contains("level ''"));
    let empty = Cohort::from_columns(vec![]).unwrap();
    assert!(empty.write_csv_to(Vec::new()).is_err());
}

#[test]
fn select_rows_then_write_drops_nothing_but_unused_levels() {
    let c = sample_cohort();
    let s = c.select_rows(&[0, 0, 3]).unwrap();
    let back = Cohort::from_csv_str(&write_to_string(&s), &LoadOptions::matching(&s)).unwrap();
    assert!(!back.identical(&s), "unused levels are not in the file");
    let dropped = s
        .iter()
        .fold(Cohort::from_columns(vec![]).unwrap(), |acc, (n, col)| {
            acc.with_column(n, col.drop_unused_levels()).unwrap()
        });
    assert!(back.identical(&dropped));
}

/// A label that reads back as itself: no surrounding whitespace, not a default missing string.
fn label() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ,;\"'\n.+\\-éø]{1,6}".prop_filter("reads back", |s| {
        s.trim() == s && !["NA", "NaN"].contains(&s.as_str())
    })
}

/// A number or a missing value, with integers, tiny and huge values and negative zero.
fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(-0.0),
        (-1000i32..1000).prop_map(f64::from),
        prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,
        (0.0..1.0f64),
    ]
}

/// A column of `n` rows: numeric, or categorical built from labels (so every level is used).
fn column(n: usize) -> impl Strategy<Value = Column> {
    prop_oneof![
        prop::collection::vec(number(), n).prop_map(Column::Numeric),
        (
            prop::collection::vec(label(), 1..5),
            prop::collection::vec(prop::option::of(0usize..5), n)
        )
            .prop_map(|(labels, picks)| {
                let cells = picks
                    .into_iter()
                    .map(|p| p.map(|i| labels[i % labels.len()].clone()));
                Column::from_labels(cells).unwrap()
            }),
    ]
}

fn cohort() -> impl Strategy<Value = Cohort> {
    (0usize..25, 1usize..5).prop_flat_map(|(n, k)| {
        prop::collection::vec(column(n), k).prop_map(|cols| {
            let named = cols
                .into_iter()
                .enumerate()
                .map(|(i, c)| (format!("v{i}"), c))
                .collect();
            Cohort::from_columns(named).unwrap()
        })
    })
}

proptest! {
    #[test]
    fn random_cohorts_round_trip(c in cohort()) {
        let text = write_to_string(&c);
        let back = Cohort::from_csv_str(&text, &LoadOptions::matching(&c)).unwrap();
        prop_assert!(back.identical(&c), "{}\n{:?}\n{:?}", text, c, back);
    }

    #[test]
    fn random_cohorts_round_trip_with_inferred_types(c in cohort()) {
        // Inference reproduces the types when each categorical column has more than a few
        // cells that are not numbers.
        let inferable = c.iter().all(|(_, col)| match col.levels() {
            None => true,
            Some(levels) => {
                let number = |i| col.label(i).is_some_and(|l: &str| l.parse::<f64>().is_ok_and(f64::is_finite));
                let labelled = (0..col.len()).filter(|&i| !col.is_missing(i));
                let (numbers, text) = labelled.fold((0, 0), |(n, t), i| if number(i) { (n + 1, t) } else { (n, t + 1) });
                levels.iter().any(|l| l.parse::<f64>().is_err())
                    && (numbers <= text || text > 10.max((numbers + text) / 100))
            }
        });
        prop_assume!(inferable);
        let back = Cohort::from_csv_str(&write_to_string(&c), &LoadOptions::default()).unwrap();
        prop_assert!(back.identical(&c));
    }
}

#[test]
fn a_danish_copy_of_the_bundled_data_gives_the_same_fit() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data-samples/stepped_wedge_sim.csv"
    );
    let text = std::fs::read_to_string(path).unwrap();
    // ';' between fields and decimal commas, as Excel writes CSV with a Danish locale.
    let danish: String = text
        .chars()
        .map(|c| match c {
            ',' => ';',
            '.' => ',',
            c => c,
        })
        .collect();
    assert!(danish.contains(";87,5;"));
    let format = LoadOptions::new().format_of(danish.as_bytes());
    assert_eq!(
        (format.delimiter, format.decimal_comma, format.detected),
        (b';', true, true)
    );
    assert_eq!(format.to_string(), "';'-separated with decimal commas");
    let plain = Cohort::from_csv_str(&text, &LoadOptions::default()).unwrap();
    let read = Cohort::from_csv_str(&danish, &LoadOptions::default()).unwrap();
    assert!(read.identical(&plain));
    let formula = "death30 ~ treated + factor(period) + age + (1 | cluster)";
    let fit = |c: &Cohort| Glmm::new(formula).unwrap().fit(c).unwrap();
    let (a, b) = (fit(&plain), fit(&read));
    assert_eq!(a.coefficients.len(), 10);
    for (x, y) in a.coefficients.iter().zip(&b.coefficients) {
        assert_eq!(x.term, y.term);
        assert!((x.estimate - y.estimate).abs() <= 1e-12, "{}", x.term);
        assert!((x.std_error - y.std_error).abs() <= 1e-12, "{}", x.term);
    }
    // Asked to read decimal points, the Danish copy's ages are numbers of the other mark.
    let opts = LoadOptions::new().decimal_comma(false);
    assert_eq!(
        load_err(&danish, &opts).to_string(),
        "<memory>, line 2, column 'age': '87,5': the column's cells are numbers with decimal \
         commas, which are not read as numbers unless asked for (--decimal-comma, \
         LoadOptions::decimal_comma(true))"
    );
    let dotted = "a;b\n1.5;x\n2.25;y\n";
    assert_eq!(
        load_err(dotted, &LoadOptions::new().decimal_comma(true)).to_string(),
        "<memory>, line 2, column 'a': '1.5': the column's cells are numbers with decimal \
         points, which are not read as numbers unless asked for (--decimal-comma=false, \
         LoadOptions::decimal_comma(false))"
    );
    // Decimal commas with a ',' delimiter are refused.
    let opts = LoadOptions::new().delimiter(b',').decimal_comma(true);
    assert!(matches!(
        load_err(&text, &opts),
        Error::InvalidArgument { .. }
    ));
}
