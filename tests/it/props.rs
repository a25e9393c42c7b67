//! Properties: views, converting reads and appends agree with plain in-memory arrays.

use larder::npy::Header;
use larder::select::Item;
use larder::{ByteOrder, DType, Element, MmapArray, NpyWriter, Order, Selection, read_npy};
use ndarray::{ArrayD, Axis, IxDyn, ShapeBuilder, concatenate};
use proptest::prelude::*;

use crate::support::bits_of;

fn shape_strategy() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0usize..5, 0..5)
}

fn item_strategy() -> impl Strategy<Value = Item> {
    prop_oneof![
        (-6i64..6).prop_map(Item::Index),
        (
            proptest::option::of(-7i64..7),
            proptest::option::of(-7i64..7),
            proptest::option::of(prop_oneof![-3i64..0, 1i64..4])
        )
            .prop_map(|(start, stop, step)| Item::Slice { start, stop, step }),
    ]
}

/// Writes `a` as `.npy` in the given order and byte order by hand, as another writer would.
fn write_raw<T: Element>(path: &std::path::Path, a: &ArrayD<T>, order: Order, bo: ByteOrder) {
    let dtype = DType::with_order(T::TYPE, bo);
    let header = Header::new(dtype, a.shape(), order == Order::F);
    let mut bytes = header.to_bytes();
    let values: Vec<T> = match order {
        Order::C => a.iter().copied().collect(),
        Order::F => a.t().iter().copied().collect(),
    };
    let mut data = bytemuck::cast_slice::<T, u8>(&values).to_vec();
    if !dtype.is_native() {
        dtype.swap_bytes(&mut data).unwrap();
    }
    bytes.extend_from_slice(&data);
    std::fs::write(path, bytes).unwrap();
}

fn check_selection<T: Element>(a: &ArrayD<T>, order: Order, bo: ByteOrder, items: Vec<Item>) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.npy");
    write_raw(&p, a, order, bo);
    let m = MmapArray::<T>::open(&p).unwrap();
    let sel = Selection::new(items);
    let Ok(elems) = sel.resolve(a.shape()) else {
        // Out of bounds for this shape: both sides must refuse, neither may panic.
        assert!(m.read_slice(&sel).is_err());
        return;
    };
    // Compare bit patterns, not values: NaN != NaN, and -0.0 == 0.0 would hide a bad swap.
    let bits = |v: ndarray::ArrayViewD<'_, T>| -> (Vec<usize>, Vec<Vec<u64>>) {
        (v.shape().to_vec(), v.iter().map(|&x| bits_of(x)).collect())
    };
    let expected = bits(a.slice(elems.as_slice()));
    assert_eq!(bits(m.read_slice(&sel).unwrap().view()), expected);
    if DType::with_order(T::TYPE, bo).is_native() {
        let v = m.view().unwrap();
        assert_eq!(bits(v.slice(elems.as_slice())), expected);
    }
}

macro_rules! selection_props {
    ($($name:ident: $t:ty => $gen:expr;)*) => {$(
        proptest! {
            #[test]
            fn $name(shape in shape_strategy(), items in proptest::collection::vec(item_strategy(), 0..4),
                      f in any::<bool>(), big in any::<bool>(), seed in any::<u64>()) {
                let n: usize = shape.iter().product();
                let make = $gen;
                let vals: Vec<$t> = (0..n as u64).map(|i| make(i.wrapping_mul(0x9E37_79B9).wrapping_add(seed))).collect();
                let a = ArrayD::from_shape_vec(IxDyn(&shape), vals).unwrap();
                let order = if f { Order::F } else { Order::C };
                let bo = if big { ByteOrder::Big } else { ByteOrder::Little };
                check_selection(&a, order, bo, items);
            }
        }
    )*};
}

selection_props! {
    view_matches_owned_f64: f64 => |i: u64| f64::from_bits(i.rotate_left(52) ^ 0x3ff0_0000_0000_0000);
    view_matches_owned_i16: i16 => |i: u64| i as i16;
    view_matches_owned_u32: u32 => |i: u64| i as u32;
    view_matches_owned_bool: bool => |i: u64| i.is_multiple_of(3);
    view_matches_owned_f16: larder::f16 => |i: u64| larder::f16::from_bits(i as u16 & 0x7bff);
    view_matches_owned_c64: larder::Complex<f32> => |i: u64| larder::Complex::new(i as f32, -(i as f32) / 3.0);
}

proptest! {
    #[test]
    fn appended_rows_equal_the_concatenation(
        row_shape in proptest::collection::vec(0usize..4, 0..3),
        chunks in proptest::collection::vec((0usize..6, any::<bool>()), 1..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        let mut w = NpyWriter::<i64>::create(&p, &row_shape).unwrap();
        let mut parts = Vec::new();
        let mut next = 0i64;
        for (rows, fortran) in chunks {
            let mut shape = vec![rows];
            shape.extend_from_slice(&row_shape);
            let n: usize = shape.iter().product();
            let vals: Vec<i64> = (next..next + n as i64).collect();
            next += n as i64;
            let c = ArrayD::from_shape_vec(IxDyn(&shape), vals).unwrap();
            // The same values in Fortran layout exercise the strided path.
            let chunk = if fortran {
                let mut f = ArrayD::zeros(IxDyn(&shape).f());
                f.assign(&c);
                f
            } else {
                c
            };
            w.append_rows(&chunk).unwrap();
            parts.push(chunk);
        }
        let rows = w.finish().unwrap();
        let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
        let expected = concatenate(Axis(0), &views).unwrap();
        prop_assert_eq!(rows as usize, expected.shape()[0]);
        prop_assert_eq!(read_npy::<i64>(&p).unwrap(), expected);
    }
}
