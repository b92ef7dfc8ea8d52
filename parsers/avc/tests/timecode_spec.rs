//! `avc::timecode` on messages built from the specifications (`specbits`): an H.264
//! SPS whose VUI takes the less common paths (High profile with scaling lists,
//! `pic_order_cnt_type` 1, cropping, Extended_SAR, VCL HRD only, a time offset),
//! and every truncation of every message, which must read as nothing, never panic.

mod specbits;

use avc::timecode::{self, h264, Tracker};
use avc::{Codec, Nal};
use specbits::{Bits, Tc};

/// H.264 §7.3.2.1.1 `seq_parameter_set_data()` then §E.1.1 `vui_parameters()` with
/// a VCL `hrd_parameters()` (§E.1.2) only, then rbsp_trailing_bits.
fn sps(id: u32, time_offset_length: u64) -> Vec<u8> {
    let mut w = Bits::default();
    w.u(8, 100).u(8, 0).u(8, 31).ue(id); // profile_idc High, constraints, level, id
    w.ue(1).ue(0).ue(0).flag(false); // chroma 4:2:0, bit depths 8, qpprime
    w.flag(true); // seq_scaling_matrix_present_flag: 8 lists
    for i in 0..8 {
        let present = i == 0 || i == 6;
        w.flag(present);
        if present {
            // scaling_list() (§7.3.2.1.1.1): delta_scale +3, −8, then zeros, so
            // nextScale never reaches 0 and every entry is coded.
            w.ue(5); // se +3
            w.ue(16); // se -8 → nextScale 3, then keeps going
            let size = if i < 6 { 16 } else { 64 };
            for _ in 2..size {
                w.ue(0);
            }
        }
    }
    w.ue(0); // log2_max_frame_num_minus4
    w.ue(1).flag(false).ue(1).ue(2).ue(2).ue(1).ue(2); // poc type 1, 2-entry cycle
    w.ue(3).flag(false).ue(3).ue(2); // max refs, gaps, width 4 MBs, height 3
    w.flag(false).flag(false); // frame_mbs_only 0, mb_adaptive 0
    w.flag(true); // direct_8x8_inference
    w.flag(true).ue(0).ue(2).ue(0).ue(2); // frame cropping
    w.flag(true); // vui_parameters_present_flag
    w.flag(true).u(8, 255).u(16, 4).u(16, 3); // Extended_SAR 4:3
    w.flag(true).flag(true); // overscan
    w.flag(true).u(3, 5).flag(false).flag(true).u(24, 0x010101); // signal type
    w.flag(true).ue(1).ue(1); // chroma loc
    w.flag(true).u(32, 1001).u(32, 60000).flag(true); // timing 29.97 fps
    w.flag(false); // nal_hrd_parameters_present_flag
    w.flag(true); // vcl_hrd_parameters_present_flag
    w.ue(1).u(4, 2).u(4, 3); // cpb_cnt_minus1 1, scales
    for _ in 0..2 {
        w.ue(999).ue(1999).flag(false);
    }
    w.u(5, 23).u(5, 19).u(5, 9).u(5, time_offset_length);
    w.flag(false); // low_delay_hrd_flag
    w.flag(true); // pic_struct_present_flag
    w.flag(false); // bitstream_restriction_flag
    w.trailing();
    let mut nal = vec![0x67];
    nal.extend(w.bytes);
    nal
}

/// §7.3.2.2: pps_id, sps_id, then the rest (not read).
fn pps(id: u32, sps: u32) -> Vec<u8> {
    let mut w = Bits::default();
    w.ue(id).ue(sps).flag(false).flag(false).trailing();
    [vec![0x68], w.bytes].concat()
}

/// §7.3.3: first_mb_in_slice 0, slice_type 7 (I), pps_id, then slice data.
fn slice(pps: u32) -> Vec<u8> {
    let mut w = Bits::default();
    w.ue(0).ue(7).ue(pps).u(16, 0xabcd).trailing();
    [vec![0x65], w.bytes].concat()
}

fn tc(n_frames: u16, time_offset: (u32, i64)) -> Tc {
    Tc {
        field_based: true,
        counting_type: 1,
        full: true,
        discontinuity: false,
        cnt_dropped: false,
        n_frames,
        seconds: Some(59),
        minutes: Some(59),
        hours: Some(23),
        time_offset,
    }
}

/// §D.1.3 with the SPS above: cpb_removal_delay u(20), dpb_output_delay u(10),
/// pic_struct 5 (NumClockTS 3): the first and third timestamps present.
fn pic_timing_payload(offset_len: u32) -> Vec<u8> {
    let mut w = Bits::default();
    w.u(20, 777).u(10, 5).u(4, 5);
    w.flag(true);
    specbits::h264_clock(&mut w, 1, &tc(3, (offset_len, -5)));
    w.flag(false);
    w.flag(true);
    specbits::h264_clock(&mut w, 2, &tc(4, (offset_len, 6)));
    w.align_zero();
    w.bytes
}

#[test]
fn sps_fields_as_built() {
    let nal = sps(3, 24);
    let s = h264::parse_sps(&nal[1..]).expect("reads");
    assert_eq!(s.seq_parameter_set_id, 3);
    assert!(!s.nal_hrd && s.vcl_hrd && s.pic_struct_present);
    assert_eq!(
        (
            s.cpb_removal_delay_length_minus1,
            s.dpb_output_delay_length_minus1,
            s.time_offset_length
        ),
        (19, 9, 24)
    );
    assert_eq!(
        (s.num_units_in_tick, s.time_scale),
        (Some(1001), Some(60000))
    );
}

#[test]
fn pic_timing_with_three_clock_slots_and_time_offsets_reads_as_built() {
    let payload = pic_timing_payload(24);
    let sei = specbits::sei_nal(&[0x06], &[specbits::sei_message(1, &payload)]);
    // Two SPS: the active one is that of the slice's PPS (§7.4.1.2.1).
    let (s1, s3, p, sl) = (sps(1, 0), sps(3, 24), pps(9, 3), slice(9));
    let nals = [&s1, &s3, &p, &sei, &sl].map(|n| Nal(n));
    let f = Tracker::new().frame_nals(nals, Codec::H264).unwrap();
    assert_eq!((f.pic_struct, f.num_clock_ts), (Some(5), 3));
    assert_eq!(
        (f.cpb_removal_delay, f.dpb_output_delay),
        (Some(777), Some(5))
    );
    let got: Vec<_> = f
        .timestamps
        .iter()
        .map(|c| {
            (
                c.ct_type,
                c.n_frames,
                c.time_offset,
                c.hours,
                c.field_based,
                c.counting_type,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (Some(1), 3, Some(-5), Some(23), true, 1),
            (Some(2), 4, Some(6), Some(23), true, 1)
        ]
    );
    // With the other SPS active (time_offset_length 0, no delays... its layout
    // is the same but without the offset) the same payload misreads: the active
    // SPS matters.
    let p1 = pps(9, 1);
    let nals = [&s1, &s3, &p1, &sei, &sl].map(|n| Nal(n));
    let other = Tracker::new().frame_nals(nals, Codec::H264);
    assert_ne!(other.map(|f| f.timestamps), Some(f.timestamps));
}

#[test]
fn every_truncation_reads_as_nothing_and_never_panics() {
    let s = h264::parse_sps(&sps(0, 24)[1..]).unwrap();
    let payload = pic_timing_payload(24);
    // The payload's last byte holds bits of the last field, so any shorter prefix
    // misses a field.
    for n in 0..payload.len() {
        assert_eq!(timecode::pic_timing(&payload[..n], &s), None, "{n}");
    }
    assert!(timecode::pic_timing(&payload, &s).is_some());
    let full = sps(0, 24);
    for n in 1..full.len() - 1 {
        let _ = h264::parse_sps(&full[1..n]);
    }
    let mut w = Bits::default();
    w.u(2, 1).flag(true);
    specbits::hevc_clock(&mut w, &tc(300, (17, -65536)));
    w.align_zero();
    for n in 0..w.bytes.len() {
        assert_eq!(timecode::hevc_time_code(&w.bytes[..n]), None, "{n}");
    }
    assert_eq!(
        timecode::hevc_time_code(&w.bytes).unwrap().timestamps[0].time_offset,
        Some(-65536)
    );
    let mut w = Bits::default();
    specbits::av1_timecode(&mut w, &tc(511, (31, 0x7fff_ffff)));
    for n in 0..w.bytes.len() {
        assert_eq!(timecode::av1_timecode(&w.bytes[..n]), None, "{n}");
    }
    let t = timecode::av1_timecode(&w.bytes).unwrap().timestamps[0];
    assert_eq!((t.n_frames, t.time_offset), (511, Some(0x7fff_ffff)));
    // Whole NAL units cut anywhere, through the tracker.
    let sei = specbits::sei_nal(&[0x06], &[specbits::sei_message(1, &payload)]);
    let (s0, p, sl) = (sps(0, 24), pps(0, 0), slice(0));
    for cut in 0..sei.len() {
        let nals = [&s0[..], &p[..], &sei[..cut], &sl[..]].map(Nal);
        let _ = Tracker::new().frame_nals(nals, Codec::H264);
    }
}
