// Mould box for a 250 x 125 x 90 mm brick. Units: mm.
plate = 6;
difference() {
    cube([250 + 2*plate, 125 + 2*plate, 120]);
    translate([plate, plate, -1]) cube([250, 125, 122]);
}
